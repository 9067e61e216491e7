package algo

// Error fails a call with an error type of the algorithm's choosing, such as "InputError".
// Return it, or an error wrapping it, from apply.
type Error struct {
	// Type is the response's error_type; empty means AlgorithmError.
	Type string
	// Message is the error message.
	Message string
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }
