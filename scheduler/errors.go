package scheduler

import (
	"errors"
	"fmt"
	"strings"
)

// Command errors. Step returns them for rejected commands only; a broken
// invariant panics instead.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
)

// ValidationError rejects a command because of one or more fields.
type ValidationError struct {
	Problems []FieldProblem
}

// FieldProblem names a field and what is wrong with it.
type FieldProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Message
	}
	return "invalid job: " + strings.Join(parts, "; ")
}

// Invalid returns a ValidationError for a single field.
func Invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Problems: []FieldProblem{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// ConflictError refuses to delete a job that others depend on.
type ConflictError struct {
	Job        string
	Dependents []string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("job %q has dependents: %s", e.Job, strings.Join(e.Dependents, ", "))
}

// NotFoundError names what was not found; errors.Is(err, ErrNotFound) holds.
type NotFoundError struct {
	Kind string // "job" or "run"
	Name string
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %q not found", e.Kind, e.Name) }

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }
