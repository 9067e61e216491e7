package api

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ManifestFile is the name of the manifest at the root of an algorithm's source directory.
const ManifestFile = "algorithm.json"

// MaxSourceBytes bounds a packed source artifact.
const MaxSourceBytes = 256 << 20

// ReadManifest reads and checks the manifest of a source directory.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return m, fmt.Errorf("read manifest: %w (a source directory needs an %s naming at least its runtime)", err, ManifestFile)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("parse %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	return m, nil
}

// skipInSource reports whether a path is left out of a source artifact.
func skipInSource(rel string, d fs.DirEntry) bool {
	base := d.Name()
	switch base {
	case ".git", "__pycache__", ".venv", "venv", "node_modules", ".terraform":
		return d.IsDir()
	}
	return strings.HasSuffix(base, ".pyc")
}

// PackSource packs a source directory into a gzipped tar that is the same bytes for the same
// content (sorted entries, no times, owners or modes but the executable bit), and returns it
// with its digest "sha256:<hex>". Symbolic links and special files are refused.
func PackSource(dir string) ([]byte, string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		if skipInSource(rel, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case d.IsDir():
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			return fmt.Errorf("%s is a symbolic link: copy the file into the source directory instead", rel)
		case !d.Type().IsRegular():
			return fmt.Errorf("%s is not a regular file", rel)
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("pack %s: %w", dir, err)
	}
	sort.Strings(files)
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(gz)
	for _, rel := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		info, err := os.Stat(p)
		if err != nil {
			return nil, "", err
		}
		mode := int64(0o644)
		if info.Mode()&0o111 != 0 {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Name: rel, Mode: mode, Size: info.Size(), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return nil, "", err
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, "", err
		}
		_, err = io.Copy(tw, f)
		f.Close()
		if err != nil {
			return nil, "", err
		}
		if buf.Len() > MaxSourceBytes {
			return nil, "", errors.New("source directory is larger than 256 MiB packed: keep data out of it and read it through the Data API")
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	if err := gz.Close(); err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), "sha256:" + hex.EncodeToString(sum[:]), nil
}
