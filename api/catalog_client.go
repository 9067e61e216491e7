package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// SearchCatalog searches the algorithms the key's account may call: GET /v1/catalog. Pass the
// page's NextMarker as q.Marker to fetch the next page.
func (c *Client) SearchCatalog(ctx context.Context, q CatalogQuery) (CatalogPage, error) {
	v := url.Values{}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	for _, t := range q.Tags {
		v.Add("tag", t)
	}
	if q.Owner != "" {
		v.Set("owner", q.Owner)
	}
	if q.GPU != nil {
		v.Set("gpu", strconv.FormatBool(*q.GPU))
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Marker != "" {
		v.Set("marker", q.Marker)
	}
	var out CatalogPage
	err := c.doJSON(ctx, http.MethodGet, "/v1/catalog", v, nil, &out)
	return out, err
}

// CatalogAlgorithm reads an algorithm's catalog page: GET /v1/catalog/{owner}/{name}.
func (c *Client) CatalogAlgorithm(ctx context.Context, owner, name string) (CatalogAlgorithm, error) {
	var out CatalogAlgorithm
	err := c.doJSON(ctx, http.MethodGet, "/v1/catalog/"+url.PathEscape(owner)+"/"+url.PathEscape(name), nil, nil, &out)
	return out, err
}
