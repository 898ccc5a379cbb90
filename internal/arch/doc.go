// Package arch holds no code: its test encodes the package boundaries of
// STYLE.md §2 (which Horae package may import which) and fails when a new
// import edge crosses them. A deliberate new edge changes the table in the
// same commit.
package arch
