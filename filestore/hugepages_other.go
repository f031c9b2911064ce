//go:build !linux

package filestore

// adviseHugePages does nothing where huge pages are not advised by hand
// (see hugepages_linux.go).
func adviseHugePages(n int64) {}
