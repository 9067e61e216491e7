# A key is imported by its ID (key_…, as `algos key list` shows it). Its secret is shown only
# when a key is created, so an imported key's secret is null.
terraform import algos_api_key.service key_0123456789abcdef
