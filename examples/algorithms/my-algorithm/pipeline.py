"""A pipeline of algorithms, as in Algorithmia's talks: read the data with the Data API, remove its
seasonality with one algorithm, forecast it with another.

Input: {"uri": "data://demo/ts/records.csv", "owner": "demo", "horizon": 12} (or the URI alone).
`owner` is who published ts-remove-seasonality and ts-forecast. The calls this algorithm makes act
for its caller: the caller's key must be allowed to read the file and call both algorithms.

Upload the data first: algos data put examples/algorithms/my-algorithm/records.csv data://demo/ts/records.csv
"""

import Algorithmia

client = Algorithmia.client()


def apply(input):
    if isinstance(input, str):
        input = {"uri": input}
    input_uri = input["uri"]
    owner = input.get("owner", "demo")

    data = client.file(input_uri).get().read()
    data = client.algo(owner + "/ts-remove-seasonality").pipe(data).result
    data["horizon"] = input.get("horizon", 12)
    return client.algo(owner + "/ts-forecast").pipe(data).result
