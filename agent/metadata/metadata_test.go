package metadata

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestInstanceID(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" && r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") != "":
			_, _ = w.Write([]byte("tok"))
		case r.URL.Path == "/latest/meta-data/instance-id" && r.Header.Get("X-aws-ec2-metadata-token") == "tok":
			_, _ = w.Write([]byte("i-0abc\n"))
		case r.URL.Path == "/computeMetadata/v1/instance/name" && r.Header.Get("Metadata-Flavor") == "Google":
			_, _ = w.Write([]byte("algos-gpu-x1z"))
		case r.URL.Path == "/computeMetadata/v1/instance/zone" && r.Header.Get("Metadata-Flavor") == "Google":
			_, _ = w.Write([]byte("projects/123/zones/us-central1-a"))
		case r.URL.Path == "/computeMetadata/v1/instance/id" && r.Header.Get("Metadata-Flavor") == "Google":
			_, _ = w.Write([]byte("4567"))
		case r.URL.Path == "/metadata/instance/compute/name" && r.Header.Get("Metadata") == "true":
			_, _ = w.Write([]byte("vmss_3"))
		case r.URL.Path == "/openstack/latest/meta_data.json":
			_, _ = w.Write([]byte(`{"uuid":"6f1c","name":"n"}`))
		default:
			http.Error(w, "no", http.StatusForbidden)
		}
	}))
	defer srv.Close()
	ep := Endpoints{AWS: srv.URL, GCP: srv.URL, Azure: srv.URL, OpenStack: srv.URL}
	for cloud, want := range map[string]string{"aws": "i-0abc", "gcp": "us-central1-a/algos-gpu-x1z/4567", "azure": "vmss_3", "openstack": "6f1c"} {
		got, err := InstanceID(context.Background(), cloud, ep)
		if err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", cloud, got, err, want)
		}
	}
	if _, err := InstanceID(context.Background(), "mars", ep); !errors.Is(err, ErrUnknownCloud) {
		t.Errorf("unknown cloud: %v", err)
	}
}

func TestLocalAddress(t *testing.T) {
	t.Parallel()
	ip, err := LocalAddress("http://127.0.0.1:8080/x")
	if err != nil || ip != "127.0.0.1" {
		t.Fatalf("%q %v", ip, err)
	}
}
