package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/algos-dev/algos/clouds"
	"github.com/algos-dev/algos/clouds/aws"
	"github.com/algos-dev/algos/clouds/azure"
	"github.com/algos-dev/algos/clouds/gcp"
	"github.com/algos-dev/algos/clouds/openstack"
	"github.com/algos-dev/algos/controlplane/cloudacct"
)

// cloudFactories builds the drivers of cloud accounts from their settings and credentials
// (documented in docs/clouds.md). Unknown fields are refused so that a typo is an error.
func cloudFactories(log *slog.Logger) map[string]cloudacct.Factory {
	return map[string]cloudacct.Factory{
		"aws": func(ctx context.Context, settings, creds json.RawMessage) (clouds.Groups, error) {
			var s struct {
				Region         string            `json:"region"`
				Profile        string            `json:"profile"`
				Subnets        map[string]string `json:"subnets"`
				SecurityGroups []string          `json:"security_groups"`
				VPC            string            `json:"vpc"`
				Image          string            `json:"image"`
				Endpoint       string            `json:"endpoint"`
			}
			var c struct {
				AccessKeyID     string `json:"access_key_id"`
				SecretAccessKey string `json:"secret_access_key"`
				SessionToken    string `json:"session_token"`
			}
			if err := strict(settings, &s, "settings"); err != nil {
				return nil, err
			}
			if err := strict(creds, &c, "credentials"); err != nil {
				return nil, err
			}
			return aws.New(ctx, aws.Config{Region: s.Region, Profile: s.Profile, Subnets: s.Subnets, SecurityGroups: s.SecurityGroups,
				VPC: s.VPC, Image: s.Image, Endpoint: s.Endpoint, AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey,
				SessionToken: c.SessionToken, Logger: log.With("component", "cloud", "cloud", "aws")})
		},
		"gcp": func(ctx context.Context, settings, creds json.RawMessage) (clouds.Groups, error) {
			var s struct {
				Project        string   `json:"project"`
				Region         string   `json:"region"`
				Zones          []string `json:"zones"`
				Network        string   `json:"network"`
				Subnetwork     string   `json:"subnetwork"`
				ServiceAccount string   `json:"service_account"`
				ExternalIP     bool     `json:"external_ip"`
				Endpoint       string   `json:"endpoint"`
				// WithoutAuthentication is for emulators at Endpoint only.
				WithoutAuthentication bool `json:"without_authentication"`
			}
			if err := strict(settings, &s, "settings"); err != nil {
				return nil, err
			}
			cfg := gcp.Config{Project: s.Project, Region: s.Region, Zones: s.Zones, Network: s.Network, Subnetwork: s.Subnetwork,
				ServiceAccount: s.ServiceAccount, ExternalIP: s.ExternalIP, Endpoint: s.Endpoint,
				WithoutAuthentication: s.WithoutAuthentication && s.Endpoint != "", Logger: log.With("component", "cloud", "cloud", "gcp")}
			// The credentials are a service account key file's JSON, or {} for Application
			// Default Credentials.
			if c := bytes.TrimSpace(creds); len(c) > 0 && !bytes.Equal(c, []byte("{}")) {
				cfg.CredentialsJSON = c
			}
			return gcp.New(ctx, cfg)
		},
		"azure": func(ctx context.Context, settings, creds json.RawMessage) (clouds.Groups, error) {
			var s struct {
				SubscriptionID string   `json:"subscription_id"`
				ResourceGroup  string   `json:"resource_group"`
				Location       string   `json:"location"`
				Zones          []string `json:"zones"`
				SubnetID       string   `json:"subnet_id"`
				AdminUsername  string   `json:"admin_username"`
				SSHPublicKey   string   `json:"ssh_public_key"`
			}
			var c struct {
				TenantID     string `json:"tenant_id"`
				ClientID     string `json:"client_id"`
				ClientSecret string `json:"client_secret"`
			}
			if err := strict(settings, &s, "settings"); err != nil {
				return nil, err
			}
			if err := strict(creds, &c, "credentials"); err != nil {
				return nil, err
			}
			return azure.New(ctx, azure.Config{SubscriptionID: s.SubscriptionID, ResourceGroup: s.ResourceGroup, Location: s.Location,
				Zones: s.Zones, SubnetID: s.SubnetID, AdminUsername: s.AdminUsername, SSHPublicKey: s.SSHPublicKey,
				TenantID: c.TenantID, ClientID: c.ClientID, ClientSecret: c.ClientSecret, Logger: log.With("component", "cloud", "cloud", "azure")})
		},
		"openstack": func(ctx context.Context, settings, creds json.RawMessage) (clouds.Groups, error) {
			var s struct {
				AuthURL        string             `json:"auth_url"`
				Region         string             `json:"region"`
				ProjectID      string             `json:"project_id"`
				ProjectName    string             `json:"project_name"`
				DomainName     string             `json:"domain_name"`
				Cloud          string             `json:"cloud"` // a clouds.yaml entry on the control plane's host
				Network        string             `json:"network"`
				Subnet         string             `json:"subnet"`
				Image          string             `json:"image"`
				KeyName        string             `json:"key_name"`
				SecurityGroups []string           `json:"security_groups"`
				FloatingIPPool string             `json:"floating_ip_pool"`
				PricePerHour   map[string]float64 `json:"price_per_hour"`
			}
			var c struct {
				Username                    string `json:"username"`
				Password                    string `json:"password"`
				ApplicationCredentialID     string `json:"application_credential_id"`
				ApplicationCredentialSecret string `json:"application_credential_secret"`
			}
			if err := strict(settings, &s, "settings"); err != nil {
				return nil, err
			}
			if err := strict(creds, &c, "credentials"); err != nil {
				return nil, err
			}
			return openstack.New(ctx, openstack.Config{AuthURL: s.AuthURL, Region: s.Region, ProjectID: s.ProjectID, ProjectName: s.ProjectName,
				DomainName: s.DomainName, Cloud: s.Cloud, Network: s.Network, Subnet: s.Subnet, Image: s.Image, KeyName: s.KeyName,
				SecurityGroups: s.SecurityGroups, FloatingIPPool: s.FloatingIPPool, PricePerHour: s.PricePerHour,
				Username: c.Username, Password: c.Password, ApplicationCredentialID: c.ApplicationCredentialID,
				ApplicationCredentialSecret: c.ApplicationCredentialSecret, Logger: log.With("component", "cloud", "cloud", "openstack")})
		},
	}
}

func strict(b json.RawMessage, v any, what string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %v", what, err)
	}
	return nil
}
