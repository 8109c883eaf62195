package postgres

// AuthCacheLive tells whether db's auth cache keeps entries (its listener
// is listening), for tests.
func AuthCacheLive(db *DB) bool {
	return db.auth.Live()
}
