package auth

import "errors"

var (
	// ErrUnauthorized: no key, an unknown, expired or revoked key (401).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: a valid key without the right for this request (403).
	ErrForbidden = errors.New("forbidden")
	// ErrInvalid: a malformed key request (400).
	ErrInvalid = errors.New("invalid request")
)
