package connector

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/store"
)

// A connector's credentials, by kind. Only these fields are accepted, so that a typo is an
// error rather than silently anonymous access.
type s3Credentials struct {
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	SessionToken    string `json:"session_token"`
}

type azureCredentials struct {
	AccountName string `json:"account_name"`
	AccountKey  string `json:"account_key"`
	SASToken    string `json:"sas_token"`
}

// gcsServiceAccount is what is checked of a GCS service account's key file; the file itself
// goes to golang.org/x/oauth2/google.
type gcsServiceAccount struct {
	Type        string `json:"type"`
	ClientEmail string `json:"client_email"`
	PrivateKey  string `json:"private_key"`
}

// creds are a connector's opened credentials, parsed.
type creds struct {
	s3    *s3Credentials
	gcs   []byte // a service account's key file
	azure *azureCredentials
	// secrets are the values scrubbed from any error text that is logged.
	secrets []string
}

// emptyCredentials reports whether raw holds no credentials: nothing, null or {}.
func emptyCredentials(raw []byte) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null" || string(bytes.Join(bytes.Fields(t), nil)) == "{}"
}

var fieldNameRE = regexp.MustCompile(`^json: unknown field "([a-z_]{1,40})"$`)

// decodeStrict decodes a credentials object, refusing unknown fields. Its errors never quote
// the input: it holds secrets.
func decodeStrict(raw []byte, v any, form string) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data")
	}
	if err == nil {
		return nil
	}
	why := "not a JSON object"
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te) && te.Field != "":
		why = fmt.Sprintf("the field %q must be a string", te.Field)
	case fieldNameRE.MatchString(err.Error()):
		why = fmt.Sprintf("unknown field %q", fieldNameRE.FindStringSubmatch(err.Error())[1])
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		why = "an unknown field"
	}
	return fmt.Errorf("%w: bad credentials JSON (%s): %s", ErrInvalid, why, form)
}

const (
	s3Form    = `S3 credentials are {"access_key_id": "…", "secret_access_key": "…", "session_token": "…" (optional)}, or none for anonymous access`
	gcsForm   = `GCS credentials are a service account's JSON key file ("type": "service_account"), or none for anonymous access`
	azureForm = `Azure credentials are {"account_name": "…", "account_key": "…"} or {"account_name": "…", "sas_token": "…"}, or none for anonymous access to a public container`
)

// parseCredentials checks the credentials JSON of a kind of connector.
func parseCredentials(kind string, raw []byte) (creds, error) {
	var c creds
	if emptyCredentials(raw) {
		return c, nil
	}
	switch kind {
	case api.ConnectorS3:
		var s s3Credentials
		if err := decodeStrict(raw, &s, s3Form); err != nil {
			return c, err
		}
		if s.AccessKeyID == "" || s.SecretAccessKey == "" {
			return c, fmt.Errorf("%w: bad credentials: access_key_id and secret_access_key go together: %s", ErrInvalid, s3Form)
		}
		c.s3, c.secrets = &s, []string{s.SecretAccessKey, s.SessionToken, s.AccessKeyID}
	case api.ConnectorGCS:
		var sa gcsServiceAccount
		if err := json.Unmarshal(raw, &sa); err != nil {
			return c, fmt.Errorf("%w: bad credentials JSON (not a JSON object): %s", ErrInvalid, gcsForm)
		}
		if sa.Type != "service_account" {
			// Other kinds of Google credentials (external accounts, …) may read local files
			// or call URLs of their own: only service accounts are accepted.
			return c, fmt.Errorf("%w: bad credentials: \"type\" is %q: %s", ErrInvalid, sa.Type, gcsForm)
		}
		blk, _ := pem.Decode([]byte(sa.PrivateKey))
		if sa.ClientEmail == "" || blk == nil {
			return c, fmt.Errorf("%w: bad credentials: client_email and a PEM private_key are required: %s", ErrInvalid, gcsForm)
		}
		if _, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err != nil {
			if _, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err != nil {
				return c, fmt.Errorf("%w: bad credentials: private_key is not an RSA key: %s", ErrInvalid, gcsForm)
			}
		}
		c.gcs, c.secrets = raw, []string{sa.PrivateKey}
	case api.ConnectorAzure:
		var a azureCredentials
		if err := decodeStrict(raw, &a, azureForm); err != nil {
			return c, err
		}
		a.SASToken = strings.TrimPrefix(a.SASToken, "?")
		switch {
		case a.AccountKey != "" && a.SASToken != "":
			return c, fmt.Errorf("%w: bad credentials: give account_key or sas_token, not both: %s", ErrInvalid, azureForm)
		case a.AccountKey != "" && a.AccountName == "":
			return c, fmt.Errorf("%w: bad credentials: account_key needs account_name: %s", ErrInvalid, azureForm)
		case a.AccountKey != "":
			if _, err := azblob.NewSharedKeyCredential(a.AccountName, a.AccountKey); err != nil {
				return c, fmt.Errorf("%w: bad credentials: account_key is not base64: %s", ErrInvalid, azureForm)
			}
		case a.SASToken != "":
			if q, err := url.ParseQuery(a.SASToken); err != nil || q.Get("sig") == "" {
				return c, fmt.Errorf("%w: bad credentials: sas_token is not a SAS query string (sv=…&sig=…): %s", ErrInvalid, azureForm)
			}
		}
		c.azure, c.secrets = &a, []string{a.AccountKey, a.SASToken}
		if q, err := url.ParseQuery(a.SASToken); err == nil {
			c.secrets = append(c.secrets, q.Get("sig"))
		}
	}
	return c, nil
}

// remote is a connector's clients, built from its settings and opened credentials and kept
// while the connector is unchanged.
type remote struct {
	version   string
	transport *http.Transport
	secrets   []string
	open      func(ctx context.Context, bucket string) (*blob.Bucket, error)

	mu      sync.Mutex
	buckets map[string]*blob.Bucket
}

// remoteVersion changes whenever what a connector's clients are built from changes (its
// sealed credentials change at every update that sets them: each seal has a new nonce).
func remoteVersion(c store.Connector, allowPrivate bool) string {
	return fmt.Sprintf("%s\x00%s\x00%s\x00%t\x00%d\x00%x", c.Kind, c.Endpoint, c.Region, allowPrivate, c.UpdatedAt.UnixNano(), c.Credentials)
}

// bucket returns the bucket, opening it on first use. It is never closed while the remote is
// in use: closing is a no-op for the drivers opened here.
func (r *remote) bucket(ctx context.Context, name string) (*blob.Bucket, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b := r.buckets[name]; b != nil {
		return b, nil
	}
	b, err := r.open(ctx, name)
	if err != nil {
		return nil, err
	}
	r.buckets[name] = b
	return b, nil
}

// close lets the remote's idle connections go.
func (r *remote) close() { r.transport.CloseIdleConnections() }

// noRedirect: the SDKs handle the statuses they know; a redirect is never followed (it would
// carry a signed request to another host).
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// refusedNotRetried keeps the S3 client from retrying a connection the dialer refused.
var refusedNotRetried = retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
	if errors.Is(err, ErrEndpointRefused) {
		return aws.FalseTernary
	}
	return aws.UnknownTernary
})

// newRemote builds the clients of a connector. It does no I/O: a connector whose store is
// unreachable is built fine and fails at its first request.
func newRemote(ctx context.Context, c store.Connector, cr creds, allowPrivate bool) (*remote, error) {
	tr := newTransport(allowPrivate)
	hc := &http.Client{Transport: tr, CheckRedirect: noRedirect}
	r := &remote{version: remoteVersion(c, allowPrivate), transport: tr, secrets: cr.secrets, buckets: map[string]*blob.Bucket{}}
	switch c.Kind {
	case api.ConnectorS3:
		var cp aws.CredentialsProvider = aws.AnonymousCredentials{}
		if cr.s3 != nil {
			cp = credentials.NewStaticCredentialsProvider(cr.s3.AccessKeyID, cr.s3.SecretAccessKey, cr.s3.SessionToken)
		}
		region := c.Region
		if region == "" {
			region = "us-east-1"
		}
		o := s3.Options{
			Region:      region,
			Credentials: cp,
			HTTPClient:  hc,
			// An endpoint is an S3-compatible store or an emulator: path-style addressing.
			UsePathStyle:               c.Endpoint != "",
			RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
			ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
			Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 3
				o.Retryables = append([]retry.IsErrorRetryable{refusedNotRetried}, o.Retryables...)
			}),
		}
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		client := s3.New(o)
		r.open = func(ctx context.Context, bucket string) (*blob.Bucket, error) {
			return s3blob.OpenBucket(ctx, client, bucket, &s3blob.Options{RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired})
		}
	case api.ConnectorGCS:
		if cr.gcs != nil {
			conf, err := google.JWTConfigFromJSON(cr.gcs, storage.ScopeReadWrite)
			if err != nil {
				return nil, fmt.Errorf("%w: bad credentials: %s", ErrInvalid, gcsForm)
			}
			// The token is fetched through the same guarded client: a key file's token_uri
			// cannot lead the control plane to an address it may not reach.
			tctx := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, hc)
			hc = &http.Client{Transport: &oauth2.Transport{Source: conf.TokenSource(tctx), Base: tr}, CheckRedirect: noRedirect}
		}
		opts := []option.ClientOption{option.WithHTTPClient(hc), option.WithoutAuthentication(), storage.WithJSONReads()}
		if c.Endpoint != "" {
			opts = append(opts, option.WithEndpoint(c.Endpoint+"/storage/v1/"))
		}
		client, err := storage.NewClient(context.WithoutCancel(ctx), opts...)
		if err != nil {
			return nil, fmt.Errorf("connector %s: GCS client: %w", c.Name, err)
		}
		r.open = func(ctx context.Context, bucket string) (*blob.Bucket, error) {
			return gcsblob.OpenBucket(ctx, nil, bucket, &gcsblob.Options{Client: client})
		}
	case api.ConnectorAzure:
		a := cr.azure
		if a == nil {
			a = &azureCredentials{}
		}
		service := c.Endpoint
		if service == "" {
			if a.AccountName == "" {
				return nil, fmt.Errorf("%w: an Azure connector needs an endpoint (https://ACCOUNT.blob.core.windows.net) or credentials with account_name", ErrInvalid)
			}
			service = "https://" + a.AccountName + ".blob.core.windows.net"
		}
		opts := &container.ClientOptions{ClientOptions: azcore.ClientOptions{
			Transport: hc,
			Retry:     policy.RetryOptions{MaxRetries: 2},
			Telemetry: policy.TelemetryOptions{Disabled: true},
		}}
		var key *azblob.SharedKeyCredential
		if a.AccountKey != "" {
			k, err := azblob.NewSharedKeyCredential(a.AccountName, a.AccountKey)
			if err != nil {
				return nil, fmt.Errorf("%w: bad credentials: account_key is not base64: %s", ErrInvalid, azureForm)
			}
			key = k
		}
		r.open = func(ctx context.Context, bucket string) (*blob.Bucket, error) {
			u, err := url.JoinPath(service, bucket)
			if err != nil {
				return nil, err
			}
			var client *container.Client
			switch {
			case key != nil:
				client, err = container.NewClientWithSharedKeyCredential(u, key, opts)
			case a.SASToken != "":
				client, err = container.NewClientWithNoCredential(u+"?"+a.SASToken, opts)
			default:
				client, err = container.NewClientWithNoCredential(u, opts)
			}
			if err != nil {
				return nil, err
			}
			return azureblob.OpenBucket(ctx, client, nil)
		}
	default:
		return nil, fmt.Errorf("%w: unknown connector kind %q", ErrInvalid, c.Kind)
	}
	return r, nil
}

// queryRE matches the query string of a URL in an error's text (a SAS token travels there).
var queryRE = regexp.MustCompile(`([\w/.~%-])\?[^\s"'<>]*`)

// scrub removes secrets and URL query strings from an error's text before it is logged.
func scrub(msg string, secrets []string) string {
	for _, s := range secrets {
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, s, "REDACTED")
			if e := url.QueryEscape(s); e != s {
				msg = strings.ReplaceAll(msg, e, "REDACTED")
			}
		}
	}
	return queryRE.ReplaceAllString(msg, "$1?REDACTED")
}

// remoteErr turns an error of the object store about t into the package's errors. ctx is the
// operation's: its cause tells a timeout from a failure. The store's own text goes to the log
// (scrubbed), never to the caller.
func (s *Service) remoteErr(ctx context.Context, t *target, op string, err error) error {
	var refused *refusedError
	if errors.As(err, &refused) {
		return fmt.Errorf("%s: %w", t, refused)
	}
	if cause := context.Cause(ctx); errors.Is(cause, ErrTimeout) {
		return fmt.Errorf("%s: %s: %w", t, op, cause)
	}
	code := gcerrors.Code(err)
	status, detail := storeCode(err)
	switch {
	case code == gcerrors.NotFound:
		return notFound(t.ref)
	case code == gcerrors.Canceled && ctx.Err() != nil:
		return context.Canceled
	case code == gcerrors.DeadlineExceeded:
		return fmt.Errorf("%w: %s: %s: the object store did not answer in time", ErrTimeout, t, op)
	case code == gcerrors.PermissionDenied || status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fmt.Errorf("%w: %s: the object store refused to %s it (%s): check the credentials of %s and the store's permissions", ErrForbidden, t, op, detail, describe(t.c))
	case code == gcerrors.InvalidArgument:
		return fmt.Errorf("%w: %s: the object store refuses this name (%s)", ErrInvalid, t, detail)
	}
	var ne net.Error
	if detail == "" && errors.As(err, &ne) {
		detail = "could not reach its endpoint"
	}
	if detail == "" {
		detail = "code " + code.String()
	}
	s.log.Warn("object store request failed", "connector", t.c.Name, "owner", t.c.Owner, "bucket", t.bucket, "op", op,
		"err", scrub(err.Error(), t.r.secrets))
	return fmt.Errorf("%w: %s: %s failed (%s): the control plane logged the details", ErrRemote, t, op, detail)
}

// storeCode returns the HTTP status and the error code that the store answered with, when it
// answered (S3's "SignatureDoesNotMatch", Azure's "AuthorizationFailure", GCS's reason).
func storeCode(err error) (int, string) {
	var ae smithy.APIError
	var he interface{ HTTPStatusCode() int }
	var re *azcore.ResponseError
	var ge *googleapi.Error
	switch {
	case errors.As(err, &re):
		return re.StatusCode, fmt.Sprintf("HTTP %d %s", re.StatusCode, re.ErrorCode)
	case errors.As(err, &ge):
		reason := ""
		if len(ge.Errors) > 0 {
			reason = " " + ge.Errors[0].Reason
		}
		return ge.Code, fmt.Sprintf("HTTP %d%s", ge.Code, reason)
	case errors.As(err, &ae):
		status := 0
		if errors.As(err, &he) {
			status = he.HTTPStatusCode()
		}
		return status, fmt.Sprintf("HTTP %d %s", status, ae.ErrorCode())
	case errors.As(err, &he):
		return he.HTTPStatusCode(), fmt.Sprintf("HTTP %d", he.HTTPStatusCode())
	}
	return 0, ""
}
