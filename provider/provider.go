// Package provider is the Terraform provider of algos: algorithms published from source, node
// pools and API keys as resources, version ranges and instance types as data sources. It talks
// to the control plane only through the api package.
package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/algos-dev/algos/api"
)

// DefaultEndpoint is the control plane that `make dev` runs.
const DefaultEndpoint = "http://127.0.0.1:8080"

// Environment variables the provider block falls back to.
const (
	EnvEndpoint = "ALGOS_ENDPOINT"
	EnvAPIKey   = "ALGOS_API_KEY"
)

var _ provider.Provider = (*Provider)(nil)

// Provider is the algos provider.
type Provider struct {
	version string
	// poolWait bounds how long a node pool's create and update wait for its nodes, and its
	// delete for it to be gone (0: defaultPoolWait).
	poolWait time.Duration
}

// defaultPoolWait is how long node pool operations wait by default.
const defaultPoolWait = 3 * time.Minute

// New returns a function that builds the provider, as providerserver wants it.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &Provider{version: version} }
}

// providerModel is the provider block.
type providerModel struct {
	Endpoint types.String `tfsdk:"endpoint"`
	APIKey   types.String `tfsdk:"api_key"`
}

// clientData is what Configure hands to resources and data sources.
type clientData struct {
	client   *api.Client
	account  api.Account // the account the key acts for
	poolWait time.Duration
}

// Metadata implements provider.Provider.
func (p *Provider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "algos"
	resp.Version = p.version
}

// Schema implements provider.Provider.
func (p *Provider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "The algos provider declares algorithms published from source, node pools and API keys " +
			"of an [algos](https://github.com/algos-dev/algos) control plane. Every call goes to the control plane's REST API " +
			"with an API key; node pools need an administrator's key with the `manage` scope.",
		Attributes: map[string]schema.Attribute{
			"endpoint": schema.StringAttribute{
				MarkdownDescription: "URL of the control plane's API. Defaults to `$" + EnvEndpoint + "`, else `" + DefaultEndpoint + "` (what `make dev` runs).",
				Optional:            true,
			},
			"api_key": schema.StringAttribute{
				MarkdownDescription: "API key to authenticate with (`algos dev` prints one). Defaults to `$" + EnvAPIKey + "`. " +
					"Managing algorithms and keys needs the `manage` scope; node pools need an administrator's key.",
				Optional:  true,
				Sensitive: true,
			},
		},
	}
}

// Configure implements provider.Provider: it checks the endpoint and the key with
// GET /v1/account, so that a control plane that is down or a refused key is one clear error.
func (p *Provider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if cfg.Endpoint.IsUnknown() {
		resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Unknown algos endpoint",
			"The endpoint depends on a value that is known only after apply. Set it from a variable or a literal, or through "+EnvEndpoint+".")
	}
	if cfg.APIKey.IsUnknown() {
		resp.Diagnostics.AddAttributeError(path.Root("api_key"), "Unknown algos API key",
			"The API key depends on a value that is known only after apply. Set it from a variable, or through "+EnvAPIKey+".")
	}
	if resp.Diagnostics.HasError() {
		return
	}
	endpoint := os.Getenv(EnvEndpoint)
	if !cfg.Endpoint.IsNull() && cfg.Endpoint.ValueString() != "" {
		endpoint = cfg.Endpoint.ValueString()
	}
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Invalid algos endpoint",
			fmt.Sprintf("endpoint %q is not an http:// or https:// URL, e.g. %s.", endpoint, DefaultEndpoint))
		return
	}
	key := os.Getenv(EnvAPIKey)
	if !cfg.APIKey.IsNull() && cfg.APIKey.ValueString() != "" {
		key = cfg.APIKey.ValueString()
	}
	if key == "" {
		resp.Diagnostics.AddAttributeError(path.Root("api_key"), "Missing algos API key",
			"No API key: set api_key in the provider block or the environment variable "+EnvAPIKey+
				" (`algos dev` prints an administrator's key as `export "+EnvAPIKey+"=…`).")
		return
	}
	ctx = tflog.MaskMessageStrings(ctx, key)
	ctx = tflog.SetField(ctx, "endpoint", endpoint)
	tflog.Debug(ctx, "configuring the algos client")

	client := api.NewClient(endpoint, key)
	acct, err := client.Account(ctx)
	if err != nil {
		var ae *api.Error
		switch {
		case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
			resp.Diagnostics.AddAttributeError(path.Root("api_key"), "The API key was refused",
				"The algos control plane at "+endpoint+" refused the API key: "+ae.Message+
					". Check api_key / "+EnvAPIKey+" (a revoked or expired key stops working at once).")
		case errors.As(err, &ae):
			resp.Diagnostics.AddError("The algos control plane answered with an error",
				"GET /v1/account on "+endpoint+": "+ae.Error())
		default:
			cause := err // the client's error names the request and asks the same question: keep its cause
			if u := errors.Unwrap(err); u != nil {
				cause = u
			}
			resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Cannot reach the algos control plane",
				"cannot reach the algos control plane at "+endpoint+": "+cause.Error()+"; is it running (make dev)?")
		}
		return
	}
	tflog.Info(ctx, "algos client configured", map[string]any{"account": acct.Name, "admin": acct.Admin})
	data := &clientData{client: client, account: acct, poolWait: p.poolWait}
	if data.poolWait <= 0 {
		data.poolWait = defaultPoolWait
	}
	resp.ResourceData = data
	resp.DataSourceData = data
}

// Resources implements provider.Provider.
func (p *Provider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{newAlgorithmResource, newNodePoolResource, newAPIKeyResource}
}

// DataSources implements provider.Provider.
func (p *Provider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{newAlgorithmDataSource, newInstanceTypesDataSource}
}
