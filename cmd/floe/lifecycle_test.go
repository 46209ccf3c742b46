package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"floe/chainlink"
	"floe/codec"
	"floe/node"
)

// These tests run the commands of an account's blob lifecycle (info,
// health, store of several inputs, dry runs, status, blobs list, extend,
// delete, version, node limits) as the real binary against a swarm of
// processes, parse their --json output back, and check every refusal: one
// line on stderr starting "floe: ", the documented exit code, and nothing
// changed on the chain.

// runCode runs floe with stdin and returns stdout, stderr and the exit
// status.
func runCode(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	return runCodeEnv(t, nil, stdin, args...)
}

// runCodeEnv is runCode with env added to the process's environment.
func runCodeEnv(t *testing.T, env []string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, floeBinary(t), args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errb.String(), 0
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	}
	t.Fatalf("floe %s: %v", strings.Join(args, " "), err)
	return "", "", -1
}

// mustJSON runs floe, which must succeed, and decodes its stdout into v.
func mustJSON(t *testing.T, v any, stdin string, args ...string) {
	t.Helper()
	out, stderr, code := runCode(t, stdin, args...)
	if code != 0 {
		t.Fatalf("floe %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("floe %s: stdout is not the documented JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// refused runs floe, which must exit with code and print exactly one line
// on stderr, starting "floe: " and containing want; it returns stdout.
func refused(t *testing.T, code int, want string, stdin string, args ...string) string {
	t.Helper()
	out, stderr, got := runCode(t, stdin, args...)
	if got != code {
		t.Fatalf("floe %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, code, out, stderr)
	}
	if strings.Contains(stderr, "panic:") || strings.Contains(stderr, "goroutine ") {
		t.Fatalf("floe %s panicked:\n%s", strings.Join(args, " "), stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "floe: ") || !strings.Contains(lines[0], want) {
		t.Fatalf("floe %s: stderr %q, want one line starting \"floe: \" that says %q", strings.Join(args, " "), stderr, want)
	}
	return out
}

// chainState is what a refused command must leave as it was: the
// accounts' objects and balances.
func chainState(t *testing.T, c chainlink.Chain, accounts ...chainlink.ID) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, a := range accounts {
		bs, err := c.OwnedBlobs(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		acc, err := c.Account(ctx, a)
		if err != nil && !errors.Is(err, chainlink.ErrNotFound) {
			t.Fatal(err)
		}
		j, _ := json.Marshal(bs)
		fmt.Fprintf(&b, "%s %d %s\n", a, acc.Balance, j)
	}
	return b.String()
}

func TestProcessLifecycleCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process swarm test")
	}
	const shards = 20
	s := newProcSwarm(t, 4, shards)
	ctx := context.Background()
	cfg, err := node.LoadClientConfig(s.client)
	if err != nil {
		t.Fatal(err)
	}
	me := cfg.Account
	// A second account: not the owner of anything the first one stores.
	other := filepath.Join(s.dir, "other.json")
	if err := node.WriteJSON(other, clientConfig(t, s.ledgerURL)); err != nil {
		t.Fatal(err)
	}
	ocfg, err := node.LoadClientConfig(other)
	if err != nil {
		t.Fatal(err)
	}
	unreachable := filepath.Join(s.dir, "unreachable.json")
	if err := node.WriteJSON(unreachable, node.ClientConfig{Network: "proctest", Ledger: "http://127.0.0.1:" + strconv.Itoa(freePort(t)), Account: randomAccount(t)}); err != nil {
		t.Fatal(err)
	}
	C := func(args ...string) []string { return withConfig(s.client, args...) }

	// info: the epoch, the committee and its shards, the prices.
	var info infoResult
	mustJSON(t, &info, "", C("info", "--json", "--size", "100000", "--epochs", "3")...)
	st, err := s.chain.EpochState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := codec.NewParams(shards)
	total := 0
	for _, m := range info.Committee {
		total += m.Shards
		if len(m.ShardIDs) != m.Shards || m.Name == "" || m.PeerID == "" {
			t.Fatalf("info member %+v", m)
		}
	}
	if info.Epoch != 1 || info.Phase != chainlink.PhaseChangeDone || info.NShards != shards || len(info.Committee) != 4 || total != shards ||
		info.MaxBlobSize != p.MaxBlobSize() || info.MaxEpochsAhead != st.MaxEpochsAhead || info.StoragePricePerUnit != st.StoragePricePerUnit ||
		info.WritePricePerUnit != st.WritePricePerUnit || info.PriceUnit != chainlink.BytesPerUnit {
		t.Fatalf("info %+v, chain %+v", info, st)
	}
	enc, _ := p.EncodedLength(100000)
	units := chainlink.Units(enc)
	if c := info.Cost; c == nil || c.Size != 100000 || c.EncodedLength != enc || c.Epochs != 3 || c.EndEpoch != 4 ||
		c.StorageCost != 3*units*st.StoragePricePerUnit || c.WriteCost != units*st.WritePricePerUnit || c.Cost != c.StorageCost+c.WriteCost {
		t.Fatalf("info --size 100000 --epochs 3: %+v (encoded %d)", info.Cost, enc)
	}
	if out, _, code := runCode(t, "", C("info")...); code != 0 || !strings.Contains(out, "epoch:           1 (change done") || !strings.Contains(out, "committee:       4 members") {
		t.Fatalf("info: exit %d\n%s", code, out)
	}

	// version, as the nodes report it too.
	var ver versionInfo
	mustJSON(t, &ver, "", "version", "--json")
	if ver.Version == "" || ver.Module != "floe" || ver.GoVersion != runtime.Version() || ver.OS != runtime.GOOS {
		t.Fatalf("version %+v", ver)
	}

	// health: every member reachable, in epoch 1, holding what it is
	// assigned (nothing yet), with its version.
	var h healthReport
	mustJSON(t, &h, "", C("health", "--json")...)
	if !h.Healthy || h.Epoch != 1 || h.NShards != shards || len(h.Members) != 4 {
		t.Fatalf("health %+v", h)
	}
	for _, m := range h.Members {
		if m.State != "ok" || !m.Reachable || m.Epoch != 1 || m.Shards != 5 || m.Version != ver.Version || m.Committees[0] != "current" {
			t.Fatalf("health member %+v (version %q)", m, ver.Version)
		}
	}
	var one healthReport
	mustJSON(t, &one, "", C("health", "--json", "--node", h.Members[2].NodeID.String())...)
	if len(one.Members) != 1 || one.Members[0].NodeID != h.Members[2].NodeID || one.Members[0].State != "ok" {
		t.Fatalf("health --node: %+v", one)
	}

	// A dry run prints what a store would cost and stores and pays nothing.
	f1, b1 := writeRandom(t, s.dir, "one.bin", 100000)
	f2, b2 := writeRandom(t, s.dir, "two.bin", 3000)
	stdin := "from stdin, several inputs at once\n"
	before := chainState(t, s.chain, me)
	var dry dryRunOutput
	mustJSON(t, &dry, "", C("store", "--dry-run", "--json", "--epochs", "3", f1)...)
	wantID, _, _ := runCode(t, "", "blob-id", "--n-shards", strconv.Itoa(shards), f1)
	if !dry.DryRun || dry.BlobID.String() != strings.TrimSpace(wantID) || dry.storeCost != *info.Cost || dry.File != f1 {
		t.Fatalf("dry run %+v, want blob %s and cost %+v", dry, wantID, info.Cost)
	}
	var drys []dryRunOutput
	mustJSON(t, &drys, stdin, C("store", "--dry-run", "--json", f1, "-")...)
	if len(drys) != 2 || drys[1].File != "-" || drys[1].Size != uint64(len(stdin)) {
		t.Fatalf("dry run of a file and stdin: %+v", drys)
	}
	if after := chainState(t, s.chain, me); after != before {
		t.Fatalf("a dry run changed the chain:\n%s\n%s", before, after)
	}

	// Several inputs, stdin among them, in one store; --epochs max.
	var stored []storeOutput
	mustJSON(t, &stored, stdin, C("store", "--json", "--epochs", "3", f1, "-", f2)...)
	if len(stored) != 3 || stored[0].File != f1 || stored[1].File != "-" || stored[2].File != f2 {
		t.Fatalf("store of three inputs: %+v", stored)
	}
	for _, r := range stored {
		if r.AlreadyCertified || r.Blob.CertifiedEpoch == nil || r.EndEpoch != 4 || r.Blob.Owner != me {
			t.Fatalf("stored %s: %+v", r.File, r.StoreResult)
		}
	}
	if stored[0].BlobID != dry.BlobID || stored[0].Cost != dry.storeCost.Cost {
		t.Fatalf("store paid %d for %s; the dry run said %d for %s", stored[0].Cost, stored[0].BlobID, dry.storeCost.Cost, dry.BlobID)
	}
	s.read(stored[0].BlobID.String(), b1)
	s.read(stored[1].BlobID.String(), []byte(stdin))
	s.read(stored[2].BlobID.String(), b2)
	out, stderr, code := runCode(t, "", C("store", "--epochs", "3", f1, f2)...)
	if code != 0 || out != fmt.Sprintf("%s\t%s\n%s\t%s\n", stored[0].BlobID, f1, stored[2].BlobID, f2) || !strings.Contains(stderr, "already certified") {
		t.Fatalf("store of two stored files: exit %d\n%s%s", code, out, stderr)
	}
	f3, _ := writeRandom(t, s.dir, "three.bin", 5000)
	var del storeOutput
	mustJSON(t, &del, "", C("store", "--json", "--epochs", "max", "--deletable", f3)...)
	if del.EndEpoch != 1+st.MaxEpochsAhead || !del.Blob.Deletable {
		t.Fatalf("store --epochs max --deletable: %+v", del.StoreResult)
	}
	f4, _ := writeRandom(t, s.dir, "four.bin", 700)
	var brief storeOutput
	mustJSON(t, &brief, "", C("store", "--json", "--deletable", f4)...)

	// health again: the members hold every sliver they are assigned
	// (pushed, or recovered by a member the store left behind).
	deadline := time.Now().Add(time.Minute)
	for {
		mustJSON(t, &h, "", C("health", "--json")...)
		ok := h.Healthy
		for _, m := range h.Members {
			ok = ok && m.State == "ok" && m.SliversAssigned == 2*5*5 && m.SliversHeld == m.SliversAssigned
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health after 5 stores: %+v", h)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// status: certified until the end epoch, with its objects counted.
	var bst blobStatusResult
	mustJSON(t, &bst, "", C("status", "--json", "--", stored[0].BlobID.String())...)
	if bst.State != stateCertified || bst.EndEpoch != 4 || bst.Epoch != 1 || len(bst.Objects) != 1 || !bst.PermanentCertified ||
		bst.DeletableRegistered != 0 || bst.Objects[0] != stored[0].Blob.ObjectID {
		t.Fatalf("status of a permanent blob: %+v", bst)
	}
	mustJSON(t, &bst, "", C("status", "--json", "--", del.BlobID.String())...)
	if bst.State != stateCertified || bst.DeletableRegistered != 1 || bst.DeletableCertified != 1 || bst.PermanentEndEpoch != 0 {
		t.Fatalf("status of a deletable blob: %+v", bst)
	}
	never := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	mustJSON(t, &bst, "", C("status", "--json", "--", never)...)
	if bst.State != stateNonexistent || bst.EndEpoch != 0 || len(bst.Objects) != 0 {
		t.Fatalf("status of a blob never stored: %+v", bst)
	}

	// blobs list: the account's five objects, nobody else's.
	var list []ownedBlob
	mustJSON(t, &list, "", C("blobs", "list", "--json")...)
	if len(list) != 5 {
		t.Fatalf("blobs list: %d objects, want 5: %+v", len(list), list)
	}
	for _, b := range list {
		if b.Owner != me || b.State != stateCertified {
			t.Fatalf("listed %+v", b)
		}
	}
	mustJSON(t, &list, "", "blobs", "list", "--json", "--config", other)
	if len(list) != 0 {
		t.Fatalf("the other account lists %+v", list)
	}
	mustJSON(t, &list, "", "blobs", "list", "--json", "--config", other, "--owner", me.String())
	if len(list) != 5 {
		t.Fatalf("--owner lists %d objects", len(list))
	}

	// extend: two more epochs, paid at the storage price.
	obj := stored[0].Blob.ObjectID
	var ext extendResult
	mustJSON(t, &ext, "", C("extend", "--json", "--epochs", "2", obj.String())...)
	sunits := chainlink.Units(stored[0].Blob.Storage.Size)
	if ext.Blob.Storage.EndEpoch != 6 || ext.PrevEndEpoch != 4 || ext.Epochs != 2 || ext.Cost != 2*sunits*st.StoragePricePerUnit {
		t.Fatalf("extend --epochs 2: %+v", ext)
	}
	if b, err := s.chain.Blob(ctx, obj); err != nil || b.Storage.EndEpoch != 6 {
		t.Fatalf("chain after extend: %+v %v", b, err)
	}
	mustJSON(t, &ext, "", C("extend", "--json", "--epochs", "max", obj.String())...)
	if ext.Blob.Storage.EndEpoch != 1+st.MaxEpochsAhead {
		t.Fatalf("extend --epochs max: %+v", ext)
	}

	// delete: the deletable object goes, its storage comes back.
	var dr deleteResult
	mustJSON(t, &dr, "", C("delete", "--json", del.Blob.ObjectID.String())...)
	if dr.ObjectID != del.Blob.ObjectID || dr.BlobState != stateNonexistent || dr.Storage.Owner != me || dr.Storage.EndEpoch != del.EndEpoch {
		t.Fatalf("delete: %+v", dr)
	}
	mustJSON(t, &bst, "", C("status", "--json", "--", del.BlobID.String())...)
	if bst.State != stateNonexistent {
		t.Fatalf("status after delete: %+v", bst)
	}

	// Refusals: one line, the right exit code, nothing changed.
	s.nodes[3].kill() // for the health check below
	before = chainState(t, s.chain, me, ocfg.Account)
	permanent := stored[2].Blob.ObjectID.String()
	unknown := chainlink.ID{0xee}.String()
	for _, tc := range []struct {
		code  int
		want  string
		stdin string
		args  []string
	}{
		{1, "not found", "", C("delete", unknown)},
		{1, "not found", "", C("extend", "--epochs", "1", unknown)},
		{1, "is a blob ID, not a blob object ID", "", C("delete", "--", stored[0].BlobID.String())},
		{1, "not deletable", "", C("delete", permanent)},
		{1, "not the owner", "", []string{"delete", "--config", other, brief.Blob.ObjectID.String()}},
		{1, "--epochs 0: want at least 1", "", C("extend", "--epochs", "0", permanent)},
		{1, "at most", "", C("extend", "--epochs", "1000", permanent)},
		{1, "the most the chain allows", "", C("extend", "--epochs", "max", obj.String())},
		{1, "--epochs 999: the chain stores at most", "", C("store", "--epochs", "999", f1)},
		{1, "stdin (-) given twice", "", C("store", "-", "-")},
		{1, "no such file", "", C("store", f1, filepath.Join(s.dir, "missing"))},
		{1, "chain unavailable", "", []string{"info", "--config", unreachable}},
		{1, "chain unavailable", "", []string{"health", "--config", unreachable}},
		{1, "chain unavailable", "", []string{"blobs", "list", "--config", unreachable}},
		{1, "chain unavailable", "", []string{"delete", "--config", unreachable, permanent}},
		{1, "chain unavailable", "", []string{"extend", "--config", unreachable, "--epochs", "1", permanent}},
		{1, "chain unavailable", "", []string{"status", "--config", unreachable, "--", never}},
		{1, "chain unavailable", "x", []string{"store", "--config", unreachable, "--dry-run", "-"}},
		{1, "no such node", "", C("health", "--node", unknown)},
		{2, "unknown command", "", []string{"blobs", "lst"}},
		{2, "unknown command", "", []string{"lifecycle"}},
		{2, "unknown flag: --epoch", "", C("extend", "--epoch", "1", permanent)},
		{2, `required flag(s) "epochs" not set`, "", C("extend", permanent)},
		{2, "accepts 1 arg(s), received 0", "", C("delete")},
		{2, `invalid argument "forever" for "--epochs"`, "", C("store", "--epochs", "forever", f1)},
		{2, "requires at least 1 arg(s)", "", C("store")},
	} {
		refused(t, tc.code, tc.want, tc.stdin, tc.args...)
	}
	if after := chainState(t, s.chain, me, ocfg.Account); after != before {
		t.Fatalf("refused commands changed the chain:\n%s\n%s", before, after)
	}

	// A member down: health prints the report and exits 1, in one line.
	down := s.nodeIDs3(t)
	out = refused(t, 1, "1 of 4 members unhealthy: "+short(down)+" unreachable", "", C("health", "--json", "--timeout", "3s")...)
	if err := json.Unmarshal([]byte(out), &h); err != nil || h.Healthy {
		t.Fatalf("health with a member down: %v\n%s", err, out)
	}
	for _, m := range h.Members {
		if (m.NodeID == down) != (m.State == "unreachable") || (m.NodeID == down && (m.Reachable || m.Error == "" || m.Shards != 5)) {
			t.Fatalf("health with %s down: %+v", down, m)
		}
	}
	s.startNode(3)
	waitLog(t, s.nodes[3].log, regexp.MustCompile(`serving on`), 2, 30*time.Second)

	// Expiry: the object stored for one epoch expires at the advance; the
	// chain tells it from a blob that never existed.
	var adv chainlink.EpochState
	mustJSON(t, &adv, "", "ledger", "advance", "--json", "--ledger", s.ledgerURL, "--ledger-dir", filepath.Join(s.dir, "ledger"))
	if adv.Epoch != 2 || adv.NShards != shards {
		t.Fatalf("ledger advance --json: %+v", adv)
	}
	s.waitEpoch(2)
	mustJSON(t, &bst, "", C("status", "--json", "--", brief.BlobID.String())...)
	if bst.State != stateExpired || bst.EndEpoch != 2 || bst.Epoch != 2 || len(bst.Objects) != 0 {
		t.Fatalf("status of an expired blob: %+v", bst)
	}
	if out, _, _ := runCode(t, "", C("status", "--", brief.BlobID.String())...); !strings.Contains(out, "expired at epoch 2") {
		t.Fatalf("status of an expired blob: %q", out)
	}
	mustJSON(t, &list, "", C("blobs", "list", "--json")...)
	if len(list) != 3 {
		t.Fatalf("blobs list after expiry: %+v", list)
	}
	mustJSON(t, &list, "", C("blobs", "list", "--json", "--include-expired")...)
	expired := 0
	for _, b := range list {
		if b.State == stateExpired {
			expired++
			if b.ObjectID != brief.Blob.ObjectID {
				t.Fatalf("%s listed as expired", b.ObjectID)
			}
		}
	}
	if len(list) != 4 || expired != 1 {
		t.Fatalf("blobs list --include-expired: %+v", list)
	}
	before = chainState(t, s.chain, me, ocfg.Account)
	refused(t, 1, "expired", "", C("delete", brief.Blob.ObjectID.String())...)
	refused(t, 1, "expired", "", C("extend", "--epochs", "1", brief.Blob.ObjectID.String())...)
	if after := chainState(t, s.chain, me, ocfg.Account); after != before {
		t.Fatalf("refused commands on an expired object changed the chain:\n%s\n%s", before, after)
	}

	// The streamed paths (files of 64 MiB and more; here from 1 byte):
	// the same blob ID from blob-id, a dry run and a store, and the bytes
	// back through a streamed read.
	f5, b5 := writeRandom(t, s.dir, "streamed.bin", 250000)
	streamedID, _, _ := runCode(t, "", "blob-id", "--stream-min", "1", "--n-shards", strconv.Itoa(shards), f5)
	plainID, _, _ := runCode(t, "", "blob-id", "--n-shards", strconv.Itoa(shards), f5)
	var dry5 dryRunOutput
	mustJSON(t, &dry5, "", C("store", "--dry-run", "--json", "--stream-min", "1", f5)...)
	var st5 storeOutput
	mustJSON(t, &st5, "", C("store", "--json", "--stream-min", "1", "--memory", "1MiB", "--spill-dir", s.dir, f5)...)
	if streamedID != plainID || strings.TrimSpace(plainID) == "" || dry5.BlobID.String() != strings.TrimSpace(plainID) ||
		st5.StoreResult == nil || st5.BlobID != dry5.BlobID {
		t.Fatalf("streamed blob-id %q, in-memory %q, dry run %s, store %+v", streamedID, plainID, dry5.BlobID, st5.StoreResult)
	}
	back5 := filepath.Join(s.dir, "streamed.back")
	if _, stderr, code := runCode(t, "", C("read", "--memory", "1MiB", "-o", back5, "--", st5.BlobID.String())...); code != 0 {
		t.Fatalf("read -o: exit %d: %s", code, stderr)
	}
	if got, err := os.ReadFile(back5); err != nil || !bytes.Equal(got, b5) {
		t.Fatalf("read -o of the streamed store: %d bytes, %v", len(got), err)
	}
	if out, _, code := runCode(t, "", C("read", "--", st5.BlobID.String())...); code != 0 || out != string(b5) {
		t.Fatalf("read to stdout: exit %d, %d bytes", code, len(out))
	}
	if left, _ := filepath.Glob(filepath.Join(s.dir, "floe-spill-*")); len(left) != 0 {
		t.Fatalf("spill files left: %v", left)
	}
}

// nodeIDs3 is the chain's node ID of node 3 (its node.json's peer).
func (s *procSwarm) nodeIDs3(t *testing.T) chainlink.ID {
	t.Helper()
	cfg, err := node.LoadConfig(s.configs[3])
	if err != nil {
		t.Fatal(err)
	}
	n, _, err := findConfiguredNode(context.Background(), s.chain, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n.ID
}

// withConfig adds --config path to a command line, before a "--".
func withConfig(path string, args ...string) []string {
	for i, a := range args {
		if a == "--" {
			return append(append(append([]string(nil), args[:i]...), "--config", path), args[i:]...)
		}
	}
	return append(append([]string(nil), args...), "--config", path)
}

// Configuration files are checked key by key; node limits shows what the
// node would derive and follows max_memory and max_fds; the long-running
// commands log in the format asked for.
func TestConfigAndLimitsCommands(t *testing.T) {
	dir := t.TempDir()
	var init nodeInitResult
	mustJSON(t, &init, "", "node", "init", "--dir", filepath.Join(dir, "n"), "--network", "proctest", "--max-memory", "536870912", "--max-fds", "300", "--json")
	cfg, err := node.LoadConfig(init.Config)
	if err != nil || cfg.MaxMemory != 512<<20 || cfg.MaxFDs != 300 || init.Owner != cfg.Owner {
		t.Fatalf("node init --max-memory --max-fds: %+v %v (%+v)", cfg, err, init)
	}
	var lim limitsReport
	mustJSON(t, &lim, "", "node", "limits", "--config", init.Config, "--shards", "100", "--json")
	if lim.Memory != 512<<20 || lim.FDs != 300 || !strings.Contains(lim.MemorySource, "max_memory") || lim.NShards != 100 || len(lim.Keys) == 0 {
		t.Fatalf("node limits: %+v", lim)
	}
	scopes := scopeMap(lim)
	sys, ok := scopes["system"]
	if !ok || sys.Memory <= 0 || sys.FD != 300 {
		t.Fatalf("system scope %+v", sys)
	}
	if _, ok := scopes["protocol /floe/proctest/put-slivers/1"]; !ok {
		t.Fatalf("no limits of the floe protocols: %+v", lim.Scopes)
	}
	// Without the keys: a quarter of the machine, half the fd limit.
	bare := filepath.Join(dir, "bare")
	// Its ledger is not running.
	bareCfg := strings.TrimSpace(mustRunBinary(t, "node", "init", "--dir", bare, "--network", "proctest", "--ledger", "http://127.0.0.1:"+strconv.Itoa(freePort(t))))
	mustJSON(t, &lim, "", "node", "limits", "--config", bareCfg, "--shards", "100", "--json")
	if lim.Memory != int64(lim.MachineMemory/4) || lim.FDs != lim.FDLimit/2 || !strings.Contains(lim.MemorySource, "quarter") {
		t.Fatalf("node limits without max_memory: %+v", lim)
	}
	// A Go memory limit below that is what the limits scale from: a node
	// run with GOMEMLIMIT=768MiB must not let libp2p buffer a quarter of
	// a large machine.
	var capped limitsReport
	out, stderr, code := runCodeEnv(t, []string{"GOMEMLIMIT=300MiB"}, "", "node", "limits", "--config", bareCfg, "--shards", "100", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &capped) != nil {
		t.Fatalf("node limits under GOMEMLIMIT: exit %d\n%s%s", code, out, stderr)
	}
	if capped.Memory != 300<<20 || !strings.Contains(capped.MemorySource, "GOMEMLIMIT") {
		t.Fatalf("node limits under GOMEMLIMIT=300MiB: memory %d from %q", capped.Memory, capped.MemorySource)
	}
	if cappedSys := scopeMap(capped)["system"]; cappedSys.Memory >= scopeMap(lim)["system"].Memory {
		t.Fatalf("system memory %d under GOMEMLIMIT=300MiB, %d without", cappedSys.Memory, scopeMap(lim)["system"].Memory)
	}
	if lim.MachineMemory/4 > 1<<30 {
		if bareSys := scopeMap(lim)["system"]; bareSys.Memory <= sys.Memory {
			t.Fatalf("system memory %d with a quarter of %d bytes, %d with max_memory 512 MiB", bareSys.Memory, lim.MachineMemory, sys.Memory)
		}
	}
	if out := mustRunBinary(t, "node", "limits", "--config", bareCfg, "--shards", "100"); !strings.Contains(out, "max_memory (--max-memory)") ||
		!strings.Contains(out, "system") {
		t.Fatalf("node limits:\n%s", out)
	}
	// The machine's memory is the most the node may use.
	raw, _ := os.ReadFile(bareCfg)
	var m map[string]any
	json.Unmarshal(raw, &m)
	m["max_memory"] = float64(1 << 60)
	raw, _ = json.Marshal(m)
	tooMuch := filepath.Join(dir, "too-much.json")
	os.WriteFile(tooMuch, raw, 0o644)
	refused(t, 1, "would not start", "", "node", "limits", "--config", tooMuch, "--shards", "100")
	refused(t, 1, "chain unavailable", "", "node", "limits", "--config", bareCfg)

	// Unknown keys, named, in node.json and client.json.
	delete(m, "max_memory")
	m["max_memroy"] = 5
	raw, _ = json.Marshal(m)
	typo := filepath.Join(dir, "typo.json")
	os.WriteFile(typo, raw, 0o644)
	refused(t, 1, `unknown key "max_memroy"`, "", "node", "run", "--config", typo)
	refused(t, 1, `unknown key "max_memroy"`, "", "node", "limits", "--config", typo, "--shards", "100")
	client := filepath.Join(dir, "client.json")
	os.WriteFile(client, []byte(`{"network": "proctest", "ledger": "http://127.0.0.1:1", "account_key": "k.key", "fauset": true}`), 0o644)
	for _, args := range [][]string{{"info"}, {"store", "--dry-run", "-"}, {"health"}, {"blobs", "list"}, {"status", "--", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}} {
		refused(t, 1, `unknown key "fauset"`, "x", withConfig(client, args...)...)
	}
	if _, err := os.Stat(filepath.Join(dir, "k.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused client config created its key (%v)", err)
	}

	// --json of the codec commands.
	tv := filepath.Join(dir, "tv1")
	os.WriteFile(tv, []byte("walrus blob id v1 regression test"), 0o644)
	var bid struct {
		File    string       `json:"file"`
		BlobID  codec.BlobID `json:"blob_id"`
		Size    int          `json:"size"`
		NShards int          `json:"n_shards"`
	}
	mustJSON(t, &bid, "", "blob-id", "--json", "--n-shards", "10", tv)
	if bid.BlobID.String() != "RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY" || bid.Size != 33 || bid.NShards != 10 || bid.File != tv {
		t.Fatalf("blob-id --json: %+v", bid)
	}
	var be benchEncodeResult
	mustJSON(t, &be, "", "bench", "encode", "--json", "--n-shards", "10", "--size", "10000", "--runs", "3")
	if be.Size != 10000 || len(be.RunsMs) != 3 || be.MedianMs <= 0 || be.MBps <= 0 || be.PeakRSS <= 0 {
		t.Fatalf("bench encode --json: %+v", be)
	}

	// Log flags: a bad value is a usage error; json logs one object a line.
	refused(t, 2, `invalid argument "loud" for "--log-level"`, "", "ledger", "serve", "--dir", filepath.Join(dir, "l"), "--log-level", "loud")
	refused(t, 2, `invalid argument "xml" for "--log-format"`, "", "node", "run", "--config", init.Config, "--log-format", "xml")
	refused(t, 2, `invalid argument "xml" for "--log-format"`, "", "devnet", "--dir", filepath.Join(dir, "d"), "--log-format", "xml")
	s := &procSwarm{t: t, bin: floeBinary(t), dir: dir}
	port := freePort(t)
	l := s.start(filepath.Join(dir, "ledger.log"), "ledger", "serve", "--listen", "127.0.0.1:"+strconv.Itoa(port),
		"--dir", filepath.Join(dir, "ledger"), "--shards", "10", "--log-format", "json", "--log-level", "debug")
	lines := waitLog(t, l.log, regexp.MustCompile(`"msg":"ledger serving"`), 1, 20*time.Second)
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil || rec["level"] != "INFO" || rec["shards"] != float64(10) {
		t.Fatalf("a json log line %q: %v", lines[0], err)
	}
	l.stop(t)

	// A devnet logging json at info; info and health against it; stopped
	// by devnet stop --json.
	dn := filepath.Join(dir, "devnet")
	dlog := filepath.Join(dir, "devnet.log")
	d := s.start(dlog, "devnet", "--dir", dn, "--nodes", "2", "--shards", "10", "--log-format", "json", "--log-level", "info")
	waitLog(t, dlog, regexp.MustCompile(`^ready$`), 1, 60*time.Second)
	started := waitLog(t, dlog, regexp.MustCompile(`"msg":"storage node started"`), 2, time.Second)
	if err := json.Unmarshal([]byte(started[0]), &rec); err != nil || rec["level"] != "INFO" {
		t.Fatalf("devnet json log line %q: %v", started[0], err)
	}
	dc := filepath.Join(dn, node.ClientConfigFile)
	var info infoResult
	mustJSON(t, &info, "", "info", "--json", "--config", dc)
	var h healthReport
	mustJSON(t, &h, "", "health", "--json", "--config", dc)
	if info.NShards != 10 || len(info.Committee) != 2 || !h.Healthy || len(h.Members) != 2 {
		t.Fatalf("devnet info %+v, health %+v", info, h)
	}
	// A devnet's nodes serve the REST API: info shows each member's URL
	// from its chain record.
	for _, m := range info.Committee {
		if !strings.HasPrefix(m.RESTURL, "https://127.0.0.1:") {
			t.Fatalf("devnet member %s: rest_url %q", m.NodeID, m.RESTURL)
		}
	}
	if out, _, code := runCode(t, "", "info", "--config", dc); code != 0 || !strings.Contains(out, info.Committee[0].RESTURL) {
		t.Fatalf("info on a devnet: exit %d, no REST URL\n%s", code, out)
	}
	var stopped struct {
		PID int    `json:"pid"`
		Dir string `json:"dir"`
	}
	mustJSON(t, &stopped, "", "devnet", "stop", "--json", "--dir", dn)
	if stopped.PID != d.cmd.Process.Pid || stopped.Dir != dn {
		t.Fatalf("devnet stop --json: %+v (pid %d)", stopped, d.cmd.Process.Pid)
	}
	<-d.done
}

func scopeMap(l limitsReport) map[string]scopeLimits {
	m := map[string]scopeLimits{}
	for _, sc := range l.Scopes {
		m[sc.Scope] = sc
	}
	return m
}
