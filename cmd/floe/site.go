package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"floe/chainlink"
	"floe/node"
)

// siteOutput is what `floe site publish|update --json` prints.
type siteOutput struct {
	*node.SitePublishResult
	URL string `json:"url"`
}

func siteURL(gateway string, id chainlink.ID) string {
	return strings.TrimRight(gateway, "/") + "/sites/" + id.String() + "/"
}

func newSiteCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "site",
		Short: "Publish a directory as a website, update it, list and show sites",
		Long: `A site is a directory served as a website by a gateway, at
GATEWAY/sites/SITE_ID/: its files are stored as quilts (each tagged with its
content type), and a manifest blob maps every path to its file, with
optional headers, redirects and a 404 page from DIR/floe-site.json:

  {"name": "my site",
   "headers": {"/index.html": {"Cache-Control": "no-cache"}},
   "redirects": {"/old.html": "/index.html"},
   "not_found": "/404.html"}

(the 404 page defaults to /404.html when DIR has one). The site's record on
chain is a blob object of the account whose attributes name its current
manifest; SITE_ID is that object's ID. 'floe site update' stores only the
files that changed and points the record at a new manifest.`,
	}
	cmd.AddCommand(newSitePublishCommand(), newSiteUpdateCommand(), newSiteListCommand(), newSiteShowCommand())
	return cmd
}

type siteStoreFlags struct {
	cf      clientFlags
	epochs  epochsValue
	gateway string
	asJSON  bool
}

func (f *siteStoreFlags) add(cmd *cobra.Command) {
	f.epochs = epochsValue{n: 1}
	f.cf.add(cmd)
	fl := cmd.Flags()
	fl.Var(&f.epochs, "epochs", "storage period of what is stored, in epochs from the current one, or max")
	fl.StringVar(&f.gateway, "gateway", "http://"+defaultGatewayListen, "the gateway whose URL of the site is printed")
	fl.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
}

func (f *siteStoreFlags) run(cmd *cobra.Command, do func(*node.Client, node.StoreOptions) (*node.SitePublishResult, error)) error {
	ctx := cmd.Context()
	c, err := f.cf.open(ctx, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := c.Chain().EpochState(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", node.ErrChain, err)
	}
	var opts node.StoreOptions
	if opts.Epochs, err = f.epochs.resolve("--epochs", st); err != nil {
		return err
	}
	res, err := do(c, opts)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	url := siteURL(f.gateway, res.SiteID)
	if f.asJSON {
		return printJSON(out, siteOutput{SitePublishResult: res, URL: url})
	}
	fmt.Fprintln(out, res.SiteID)
	fmt.Fprintln(out, url)
	if !res.Changed {
		fmt.Fprintf(cmd.ErrOrStderr(), "site %q: nothing changed (%d files); nothing stored\n", res.Manifest.Name, res.Unchanged)
		return nil
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "site %q: %d files stored in %d quilt(s), %d unchanged, %d removed; manifest %s\n",
		res.Manifest.Name, res.Stored, len(res.Quilts), res.Unchanged, res.Removed, res.ManifestID)
	return nil
}

func newSitePublishCommand() *cobra.Command {
	var (
		f    siteStoreFlags
		name string
	)
	cmd := &cobra.Command{
		Use:   "publish DIR",
		Short: "Publish a directory as a new site; print its ID and gateway URL",
		Long: `Publish every regular file under DIR as a new site of the account of --config:
the files as quilts, then the manifest, whose blob object becomes the
site's record. Prints the site ID and its URL on --gateway.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd, func(c *node.Client, opts node.StoreOptions) (*node.SitePublishResult, error) {
				return c.PublishSite(cmd.Context(), args[0], name, opts)
			})
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&name, "name", "", "the site's name (default: floe-site.json's, else DIR's base name)")
	return cmd
}

func newSiteUpdateCommand() *cobra.Command {
	var f siteStoreFlags
	cmd := &cobra.Command{
		Use:   "update SITE_ID DIR",
		Short: "Re-publish a site from DIR, storing only the files that changed",
		Long: `Compare DIR with the site's current manifest: files whose bytes or content
type changed, and new ones, are stored as new quilts; the others keep their
patches; removed files leave the site. Then the new manifest is stored and
the site's record (owned by the account of --config) points to it. Nothing
is stored when nothing changed.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			site, err := chainlink.ParseID(args[0])
			if err != nil {
				return fmt.Errorf("site ID: %w", err)
			}
			return f.run(cmd, func(c *node.Client, opts node.StoreOptions) (*node.SitePublishResult, error) {
				return c.UpdateSite(cmd.Context(), site, args[1], opts)
			})
		},
	}
	f.add(cmd)
	return cmd
}

func newSiteListCommand() *cobra.Command {
	var (
		cf     clientFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the sites of the account",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, ch, _, err := chainOf(cmd.Context(), cf.config)
			if err != nil {
				return err
			}
			sites, err := node.ListSites(cmd.Context(), ch, cfg.Account)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, sites)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SITE ID\tNAME\tMANIFEST\tEND EPOCH")
			for _, s := range sites {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", s.SiteID, s.Name, s.ManifestID, s.EndEpoch)
			}
			return tw.Flush()
		},
	}
	cf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the sites as JSON")
	return cmd
}

func newSiteShowCommand() *cobra.Command {
	var (
		cf     clientFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "show SITE_ID",
		Short: "Print a site's manifest: paths, content types, sizes, patches",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			site, err := chainlink.ParseID(args[0])
			if err != nil {
				return fmt.Errorf("site ID: %w", err)
			}
			c, err := cf.open(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer c.Close()
			m, id, err := c.LoadSite(cmd.Context(), site)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, struct {
					SiteID     chainlink.ID       `json:"site_id"`
					ManifestID string             `json:"manifest_id"`
					Manifest   *node.SiteManifest `json:"manifest"`
				}{site, id.String(), m})
			}
			fmt.Fprintf(out, "site %q, manifest %s, 404 page %q\n", m.Name, id, m.NotFound)
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PATH\tTYPE\tSIZE\tPATCH ID")
			for _, r := range m.Resources {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", r.Path, r.ContentType, r.Size, r.PatchID)
			}
			for from, to := range m.Redirects {
				fmt.Fprintf(tw, "%s\tredirect\t\t%s\n", from, to)
			}
			return tw.Flush()
		},
	}
	cf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the manifest as JSON")
	return cmd
}
