package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Role is what a user may do. Each role includes the ones before it.
type Role int

// Roles.
const (
	RoleNone     Role = iota // open endpoint: no credentials needed
	RoleViewer               // read
	RoleOperator             // also run, kill, enable/disable, mark success
	RoleAdmin                // everything: create, update, delete jobs
)

func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleOperator:
		return "operator"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(s) {
	case "viewer":
		return RoleViewer, nil
	case "operator":
		return RoleOperator, nil
	case "admin":
		return RoleAdmin, nil
	}
	return RoleNone, fmt.Errorf("role %q is not viewer, operator or admin", s)
}

// User is one entry of the auth file. Token authenticates as a Bearer token
// (native API, CLI) and as the Basic password; Password, when set, is a
// second accepted Basic password (Chronos --http_credentials).
type User struct {
	User     string `yaml:"user" json:"user"`
	Token    string `yaml:"token" json:"token"`
	Password string `yaml:"password" json:"password"`
	Role     string `yaml:"role" json:"role"`
}

// String never shows secrets.
func (u User) String() string { return fmt.Sprintf("user %q (%s)", u.User, u.Role) }

func (u User) validate() error {
	if u.User == "" {
		return fmt.Errorf("field user: empty")
	}
	if u.Token == "" && u.Password == "" {
		return fmt.Errorf("user %q: needs a token or a password", u.User)
	}
	if _, err := ParseRole(u.Role); err != nil {
		return fmt.Errorf("user %q: field role: %w", u.User, err)
	}
	return nil
}

// LoadUsers reads an auth file: a YAML or JSON list of users.
func LoadUsers(path string) ([]User, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("api: read auth file: %w", err)
	}
	var users []User
	if err := yaml.Unmarshal(b, &users); err != nil {
		return nil, fmt.Errorf("api: parse auth file %s: %w", path, err)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("api: auth file %s lists no users", path)
	}
	for i, u := range users {
		if err := u.validate(); err != nil {
			return nil, fmt.Errorf("api: auth file %s entry %d: %w", path, i, err)
		}
	}
	return users, nil
}

// userSet checks credentials in constant time: every comparison is of
// SHA-256 digests, and every user is compared.
type userSet struct {
	users []hashedUser
}

type hashedUser struct {
	name     [32]byte
	token    [32]byte
	password [32]byte
	hasTok   bool
	hasPass  bool
	role     Role
}

func newUserSet(users []User) *userSet {
	s := &userSet{}
	for _, u := range users {
		role, _ := ParseRole(u.Role)
		s.users = append(s.users, hashedUser{
			name: sha256.Sum256([]byte(u.User)), token: sha256.Sum256([]byte(u.Token)),
			password: sha256.Sum256([]byte(u.Password)),
			hasTok:   u.Token != "", hasPass: u.Password != "", role: role,
		})
	}
	return s
}

func (s *userSet) bearer(token string) (Role, bool) {
	h := sha256.Sum256([]byte(token))
	role, ok := RoleNone, false
	for _, u := range s.users {
		if subtle.ConstantTimeCompare(h[:], u.token[:]) == 1 && u.hasTok {
			role, ok = u.role, true
		}
	}
	return role, ok
}

func (s *userSet) basic(user, pass string) (Role, bool) {
	hu, hp := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
	role, ok := RoleNone, false
	for _, u := range s.users {
		nameOK := subtle.ConstantTimeCompare(hu[:], u.name[:])
		tokOK := subtle.ConstantTimeCompare(hp[:], u.token[:]) & b2i(u.hasTok)
		passOK := subtle.ConstantTimeCompare(hp[:], u.password[:]) & b2i(u.hasPass)
		if nameOK&(tokOK|passOK) == 1 {
			role, ok = u.role, true
		}
	}
	return role, ok
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// authError is a 401 (no or bad credentials) or a 403 (role too low).
type authError struct {
	code      int
	msg       string
	challenge string
}

func (e *authError) Error() string { return e.msg }

// authorize checks the request's credentials against want. Without users
// every request is allowed (loopback-only or explicitly insecure).
func (a *API) authorize(r *http.Request, want Role) error {
	if len(a.users.users) == 0 {
		return nil
	}
	challenge := `Bearer realm="horae"`
	if surfaceOf(r.URL.Path) == chronos {
		challenge = `Basic realm="horae"`
	}
	var role Role
	var ok bool
	h := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(h, "Bearer "):
		role, ok = a.users.bearer(strings.TrimSpace(strings.TrimPrefix(h, "Bearer ")))
	case strings.HasPrefix(h, "Basic "):
		if u, p, okb := r.BasicAuth(); okb {
			role, ok = a.users.basic(u, p)
		}
	case h == "":
		return &authError{code: http.StatusUnauthorized, msg: "authentication required", challenge: challenge}
	}
	if !ok {
		return &authError{code: http.StatusUnauthorized, msg: "invalid credentials", challenge: challenge}
	}
	if role < want {
		return &authError{code: http.StatusForbidden, msg: fmt.Sprintf("role %s may not do this (needs %s)", role, want)}
	}
	return nil
}
