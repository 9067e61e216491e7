package connector

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/algos-dev/algos/controlplane/store"
)

// secretValue is in every credential below: no error may quote it.
const secretValue = "SeCrEt-VaLuE-1234"

// serviceAccount returns a GCS service account's key file with a fresh RSA key.
func serviceAccount(t *testing.T, mutate func(map[string]any)) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{
		"type": "service_account", "project_id": "p", "private_key_id": secretValue,
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "sa@p.iam.gserviceaccount.com", "token_uri": "https://oauth2.googleapis.com/token",
	}
	if mutate != nil {
		mutate(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseCredentials(t *testing.T) {
	t.Parallel()
	good := []struct{ kind, creds string }{
		{"s3", ``}, {"s3", `null`}, {"s3", ` { } `},
		{"s3", `{"access_key_id":"AKIA","secret_access_key":"` + secretValue + `"}`},
		{"s3", `{"access_key_id":"AKIA","secret_access_key":"x","session_token":"` + secretValue + `"}`},
		{"gs", `{}`},
		{"gs", string(serviceAccount(t, nil))},
		{"azure", `{"account_name":"acct","account_key":"` + "c2VjcmV0" + `"}`},
		{"azure", `{"account_name":"acct","sas_token":"?sv=2022-11-02&sig=` + secretValue + `"}`},
		{"azure", `{"sas_token":"sv=2022-11-02&sig=` + secretValue + `"}`},
	}
	for _, tc := range good {
		if _, err := parseCredentials(tc.kind, []byte(tc.creds)); err != nil {
			t.Errorf("%s %s: %v", tc.kind, tc.creds, err)
		}
	}
	bad := []struct{ what, kind, creds string }{
		{"not JSON", "s3", `{"access_key_id": "AKIA", "secret_access_key": ` + secretValue},
		{"a list", "s3", `["` + secretValue + `"]`},
		{"a typo", "s3", `{"access_key_id":"AKIA","secret_acess_key":"` + secretValue + `"}`},
		{"a secret as a field name", "s3", `{"` + secretValue + `":"x"}`},
		{"a number", "s3", `{"access_key_id":"AKIA","secret_access_key":12345678}`},
		{"id without secret", "s3", `{"access_key_id":"` + secretValue + `"}`},
		{"secret without id", "s3", `{"secret_access_key":"` + secretValue + `"}`},
		{"trailing data", "s3", `{"access_key_id":"a","secret_access_key":"b"} {"x":"` + secretValue + `"}`},
		{"not a service account", "gs", `{"type":"authorized_user","refresh_token":"` + secretValue + `"}`},
		{"an external account", "gs", `{"type":"external_account","credential_source":{"file":"/etc/shadow"},"x":"` + secretValue + `"}`},
		{"no private key", "gs", string(serviceAccount(t, func(m map[string]any) { delete(m, "private_key") }))},
		{"a broken private key", "gs", string(serviceAccount(t, func(m map[string]any) {
			m["private_key"] = "-----BEGIN PRIVATE KEY-----\nU2VDckV0LVZhTHVFLTEyMzQ=\n-----END PRIVATE KEY-----\n"
		}))},
		{"gs not JSON", "gs", `{"type":"service_account","private_key":"` + secretValue},
		{"key and SAS", "azure", `{"account_name":"a","account_key":"c2VjcmV0","sas_token":"sv=1&sig=` + secretValue + `"}`},
		{"key without account", "azure", `{"account_key":"c2VjcmV0"}`},
		{"key not base64", "azure", `{"account_name":"a","account_key":"` + secretValue + `!"}`},
		{"SAS without a signature", "azure", `{"account_name":"a","sas_token":"sv=` + secretValue + `"}`},
		{"an unknown field", "azure", `{"account_name":"a","connection_string":"` + secretValue + `"}`},
	}
	for _, tc := range bad {
		_, err := parseCredentials(tc.kind, []byte(tc.creds))
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", tc.what, err)
			continue
		}
		if strings.Contains(err.Error(), secretValue) || strings.Contains(err.Error(), "U2VDckV0") {
			t.Errorf("%s: the error quotes the credentials: %v", tc.what, err)
		}
		if !strings.Contains(err.Error(), "credentials") {
			t.Errorf("%s: %v: the error does not say what credentials look like", tc.what, err)
		}
	}
}

func TestNewRemoteNeedsAzureAccount(t *testing.T) {
	t.Parallel()
	_, err := newRemote(t.Context(), store.Connector{Kind: "azure", Buckets: []string{"c"}}, creds{}, false)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("an Azure connector with neither endpoint nor account: %v, want ErrInvalid", err)
	}
}

func TestScrub(t *testing.T) {
	t.Parallel()
	msg := `GET "http://acct.blob.core.windows.net/c/f?sv=2022&sig=abc%2Bdef": key SECRETKEY+/= and abc+def`
	got := scrub(msg, []string{"SECRETKEY+/=", "abc+def", ""})
	for _, s := range []string{"SECRETKEY", "abc", "sig="} {
		if strings.Contains(got, s) {
			t.Errorf("scrub left %q in %q", s, got)
		}
	}
	if !strings.Contains(got, "acct.blob.core.windows.net/c/f") {
		t.Errorf("scrub removed more than secrets: %q", got)
	}
}
