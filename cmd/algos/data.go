package main

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/algos-dev/algos/api"
)

// splitDataURI splits "data://owner/collection/path" into owner, collection and path ("" when
// absent); a trailing "/" is dropped.
func splitDataURI(uri string) (owner, coll, path string, err error) {
	rest, ok := strings.CutPrefix(uri, "data://")
	if !ok || rest == "" {
		return "", "", "", fmt.Errorf("%q: name data as data://owner/collection/path (data://.my/… for your own)", uri)
	}
	parts := strings.SplitN(strings.TrimSuffix(rest, "/"), "/", 3)
	parts = append(parts, "", "")
	return parts[0], parts[1], parts[2], nil
}

func dataCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "data", Short: "Manage files in the Data API (data://owner/collection/path)"}
	cmd.AddCommand(dataLsCmd(), dataPutCmd(), dataGetCmd(), dataRmCmd(), dataMkdirCmd())
	return cmd
}

func dataLsCmd() *cobra.Command {
	var long bool
	ls := &cobra.Command{
		Use:   "ls data://owner[/collection[/folder]]",
		Short: "List an owner's collections, or a collection's or folder's folders and files",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			owner, coll, _, err := splitDataURI(args[0])
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			if coll == "" {
				fs, err := c.ListCollections(cmd.Context(), owner)
				if err != nil {
					return err
				}
				for _, f := range fs {
					if long {
						fmt.Fprintf(tw, "%s/\t%s\n", f.Name, f.ACL)
					} else {
						fmt.Fprintf(tw, "%s/\n", f.Name)
					}
				}
				return tw.Flush()
			}
			marker := ""
			for {
				l, err := c.List(cmd.Context(), args[0], marker)
				if err != nil {
					return err
				}
				for _, f := range l.Folders {
					fmt.Fprintf(tw, "%s/\n", f.Name)
				}
				for _, f := range l.Files {
					if long {
						fmt.Fprintf(tw, "%s\t%d\t%s\n", f.LastModified.UTC().Format("2006-01-02 15:04:05"), f.Size, f.Filename)
					} else {
						fmt.Fprintln(tw, f.Filename)
					}
				}
				if marker = l.Marker; marker == "" {
					return tw.Flush()
				}
			}
		},
	}
	ls.Flags().BoolVarP(&long, "long", "l", false, "show sizes and times (and collections' ACLs)")
	return ls
}

func dataPutCmd() *cobra.Command {
	var contentType string
	put := &cobra.Command{
		Use:   "put LOCAL|- data://owner/collection/path",
		Short: "Upload a local file (or stdin); a destination ending in / keeps the local name",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			src, dst := args[0], args[1]
			var body io.Reader = cmd.InOrStdin()
			if src != "-" {
				f, err := os.Open(src)
				if err != nil {
					return err
				}
				defer f.Close()
				body = f
				if strings.HasSuffix(dst, "/") {
					dst += filepath.Base(src)
				}
				if contentType == "" {
					contentType = mime.TypeByExtension(filepath.Ext(src))
				}
			} else if strings.HasSuffix(dst, "/") {
				return errors.New("name the destination file when uploading stdin")
			}
			if err := c.PutFile(cmd.Context(), dst, contentType, body); err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "uploaded", dst)
			return nil
		},
	}
	put.Flags().StringVar(&contentType, "content-type", "", "the file's Content-Type (default: by its extension, else application/octet-stream)")
	return put
}

func dataGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get data://owner/collection/path LOCAL|-",
		Short: "Download a file to a local path (a directory keeps its name) or to stdout (-)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			src, dst := args[0], args[1]
			rc, err := c.GetFile(cmd.Context(), src)
			if err != nil {
				return err
			}
			defer rc.Close()
			if dst == "-" {
				_, err = io.Copy(cmd.OutOrStdout(), rc)
				return err
			}
			if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
				dst = filepath.Join(dst, filepath.Base(strings.TrimSuffix(src, "/")))
			}
			// Download beside the destination and rename, so that a failed download leaves
			// no partial file under its name.
			tmp, err := os.CreateTemp(filepath.Dir(dst), ".algos-download-*")
			if err != nil {
				return err
			}
			_, err = io.Copy(tmp, rc)
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.Rename(tmp.Name(), dst)
			}
			if err != nil {
				_ = os.Remove(tmp.Name())
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "downloaded", src, "to", dst)
			return nil
		},
	}
}

func dataRmCmd() *cobra.Command {
	var force bool
	rm := &cobra.Command{
		Use:   "rm data://owner/collection[/path]",
		Short: "Delete a file, a folder or a collection (--force when it is not empty)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			uri := args[0]
			_, coll, path, err := splitDataURI(uri)
			if err != nil {
				return err
			}
			if coll == "" {
				return fmt.Errorf("%s names an account: name a collection, folder or file", uri)
			}
			var n int
			if path == "" || force || strings.HasSuffix(uri, "/") {
				n, err = c.DeleteDir(cmd.Context(), uri, force)
			} else {
				n, err = c.DeleteFile(cmd.Context(), uri)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "deleted %s (%d files)\n", uri, n)
			return nil
		},
	}
	rm.Flags().BoolVarP(&force, "force", "f", false, "delete a folder or collection with everything in it")
	return rm
}

func dataMkdirCmd() *cobra.Command {
	var acl string
	mkdir := &cobra.Command{
		Use:   "mkdir data://owner/collection[/folder]",
		Short: "Create a collection (with --acl) or an empty folder in one",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			owner, coll, path, err := splitDataURI(args[0])
			if err != nil {
				return err
			}
			switch {
			case coll == "":
				return fmt.Errorf("%s names an account: add the collection's name", args[0])
			case path == "":
				col, err := c.CreateCollection(cmd.Context(), owner, api.CreateCollection{Name: coll, ACL: api.ACL(acl)})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "created data://%s/%s (%s)\n", col.Owner, col.Name, col.ACL)
				return nil
			case acl != "":
				return errors.New("--acl applies to collections: folders share their collection's")
			}
			uri := strings.TrimSuffix(args[0], "/")
			i := strings.LastIndexByte(uri, '/')
			if err := c.Mkdir(cmd.Context(), uri[:i], uri[i+1:]); err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "created", uri+"/")
			return nil
		},
	}
	mkdir.Flags().StringVar(&acl, "acl", "", "who reads a new collection: public, my_algorithms (default) or private")
	return mkdir
}
