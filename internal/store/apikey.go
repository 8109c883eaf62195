package store

import "strings"

// JoinScopes is the stored form of an API key's scopes, shared by the
// stores: space-separated; no scopes is "all", the scope of every key made
// before scopes existed.
func JoinScopes(scopes []string) string {
	if len(scopes) == 0 {
		return "all"
	}
	return strings.Join(scopes, " ")
}

// SplitScopes reads what JoinScopes wrote.
func SplitScopes(s string) []string {
	return strings.Fields(s)
}
