package execrunner

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/algos-dev/algos/sdk/internal/wire"
)

// result returns the response for a program's stdout under an output mode.
func result(mode string, stdout []byte) wire.Response {
	isJSON := utf8.Valid(stdout) && json.Valid(stdout)
	switch mode {
	case OutputJSON:
		if !isJSON {
			return wire.ErrorResponse(wire.AlgorithmError,
				"the program's output is not valid JSON; print one JSON value, or use --output auto, text or binary", "")
		}
		return wire.JSONResponse(compact(stdout))
	case OutputText:
		if !utf8.Valid(stdout) {
			return wire.ErrorResponse(wire.AlgorithmError,
				"the program's output is not valid UTF-8 text; use --output binary or auto", "")
		}
		return wire.TextResponse(string(stdout))
	case OutputBinary:
		return wire.BinaryResponse(stdout)
	}
	switch {
	case isJSON:
		return wire.JSONResponse(compact(stdout))
	case utf8.Valid(stdout):
		return wire.TextResponse(string(stdout))
	default:
		return wire.BinaryResponse(stdout)
	}
}

// compact returns valid JSON without insignificant whitespace, so that it fits on one line.
func compact(valid []byte) []byte {
	var buf bytes.Buffer
	_ = json.Compact(&buf, valid) // valid JSON always compacts
	return buf.Bytes()
}
