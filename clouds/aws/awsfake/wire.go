package awsfake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// node is an XML element: either text or children. A node with an empty name is skipped,
// so optional elements can be written inline.
type node struct {
	name, text string
	attr       string // xmlns, for the root
	kids       []node
}

func el(name string, kids ...node) node { return node{name: name, kids: kids} }

func leaf(name, text string) node { return node{name: name, text: text} }

// opt is leaf, or nothing when text is empty.
func opt(name, text string) node {
	if text == "" {
		return node{}
	}
	return leaf(name, text)
}

func itoa(n int) string { return strconv.Itoa(n) }

func boolText(b bool) string { return strconv.FormatBool(b) }

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', 6, 64) }

func timeText(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// items wraps each node in an element named item (ec2query lists) or member (awsQuery).
func items(wrapper string, kids []node) []node {
	out := make([]node, len(kids))
	for i, k := range kids {
		k.name = wrapper
		out[i] = k
	}
	return out
}

func writeNode(b *strings.Builder, n node) {
	if n.name == "" {
		return
	}
	b.WriteString("<" + n.name)
	if n.attr != "" {
		b.WriteString(` xmlns="` + n.attr + `"`)
	}
	b.WriteString(">")
	if len(n.kids) == 0 {
		_ = xml.EscapeText(b2w{b}, []byte(n.text))
	}
	for _, k := range n.kids {
		writeNode(b, k)
	}
	b.WriteString("</" + n.name + ">")
}

type b2w struct{ b *strings.Builder }

func (w b2w) Write(p []byte) (int, error) { return w.b.Write(p) }

// verify checks the request's SigV4 signature with the secret of its access key, the way
// AWS does: the canonical request is rebuilt from the signed headers only. EC2 answers
// AuthFailure; the query services InvalidClientTokenId (unknown key) or
// SignatureDoesNotMatch.
func (s *Server) verify(r *http.Request, body []byte, service, version string) *apiError {
	unknownKey, badSig := "InvalidClientTokenId", "SignatureDoesNotMatch"
	if version == versionEC2 {
		unknownKey, badSig = "AuthFailure", "AuthFailure"
	}
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return errorf(unknownKey, "The request must be signed with AWS Signature Version 4.")
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/") // key/date/region/service/aws4_request
	if len(scope) != 5 {
		return errorf(unknownKey, "Malformed credential scope.")
	}
	secret, ok := s.opts.Credentials[scope[0]]
	if !ok {
		return errorf(unknownKey, "AWS was not able to validate the provided access credentials.")
	}
	if scope[2] != s.opts.Region || scope[3] != service {
		return errorf(badSig, "Credential should be scoped to region %q and service %q.", s.opts.Region, service)
	}
	signingTime, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return errorf(badSig, "X-Amz-Date is missing or malformed.")
	}
	req, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return errorf(badSig, "Malformed request.")
	}
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		switch h {
		case "host":
			req.Host = r.Host
		case "content-length":
			req.ContentLength = int64(len(body))
		default:
			req.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: scope[0], SecretAccessKey: secret, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, scope[2], signingTime); err != nil {
		return errorf(badSig, "Signature could not be computed.")
	}
	if got := req.Header.Get("Authorization"); got != auth {
		return errorf(badSig, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
	}
	return nil
}
