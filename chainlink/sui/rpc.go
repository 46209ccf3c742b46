package sui

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	pb "github.com/block-vision/sui-go-sdk/pb/sui/rpc/v2"
	"github.com/cockroachdb/pebble/v2"
	"github.com/ipfs/go-datastore"
	pebbleds "github.com/ipfs/go-ds-pebble"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"floe/chainlink"
	"floe/chainlink/account"
)

// Config says which deployment a Client talks to and with which keys.
type Config struct {
	// RPC is the full node's gRPC endpoint: "host:port" (plaintext on
	// loopback, TLS elsewhere), "http://host:port" (plaintext) or
	// "https://host:port" (TLS).
	RPC string
	// System and Staking are the Walrus shared objects (spec §14).
	System, Staking Address
	// Treasury is WAL's shared ProtectedTreasury (needed by the current
	// contracts' epoch change; zero: the first initiate_epoch_change).
	Treasury Address
	// WAL is the WAL coin type ("0x…::wal::WAL"). Empty: the deployment's
	// package's wal::WAL (true of the stand-in; set it for Testnet and
	// Mainnet, where WAL lives in its own package).
	WAL string
	// Keys are the accounts the Client signs for (owners, payers, stakers).
	Keys *chainlink.Keyring
	// Key signs transactions no account of a request names
	// (invalidate_blob_id, the epoch-change calls).
	Key *account.Key
	// NetworkKey is the P-256 key whose public half a node registration
	// writes as network_public_key; RegisterNode needs one.
	NetworkKey *ecdsa.PrivateKey
	// FaucetURL is a Sui faucet (localnet/testnet, or the stand-in's).
	// Empty: Faucet returns ErrNoFaucet.
	FaucetURL string
	// GasBudget per transaction (default 50_000_000 MIST) and GasPrice
	// (default: the epoch's reference gas price, 1000 if unknown).
	GasBudget, GasPrice uint64
	// StartCheckpoint is where the event index starts reading; every
	// Client started from the same checkpoint assigns the same cursors.
	StartCheckpoint uint64
	// IndexDir, if set, is a directory where the event index persists
	// what it read (pebble), so a restarted Client resumes from there
	// instead of reading every checkpoint from StartCheckpoint again. An
	// index built from another StartCheckpoint is refused.
	IndexDir string
	// PollInterval is how often the index asks for new checkpoints while
	// it waits for one (default 100ms).
	PollInterval time.Duration
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// Client implements chainlink.Chain against a Sui full node over gRPC.
type Client struct {
	cfg    Config
	log    *slog.Logger
	conn   *grpc.ClientConn
	ledger pb.LedgerServiceClient
	state  pb.StateServiceClient
	exec   pb.TransactionExecutionServiceClient

	dep        Deployment
	typeOrigin Address // the package that defined the Walrus types
	packages   []Address

	idx     *index
	cancel  context.CancelFunc
	done    chan struct{}
	txMu    sync.Mutex // serializes transactions (gas coins are reused)
	closeDS func() error
	mu      sync.Mutex
	closed  bool
}

var _ chainlink.Chain = (*Client)(nil)

// Limits of what the Client accepts from a full node.
const (
	maxObjectBytes  = 4 << 20
	maxCallMsgBytes = 64 << 20
	maxPage         = 1000
	defaultBudget   = 50_000_000
	defaultGasPrice = 1000
)

func dialTarget(rpc string) (string, credentials.TransportCredentials, error) {
	switch {
	case strings.HasPrefix(rpc, "http://"):
		return strings.TrimPrefix(rpc, "http://"), insecure.NewCredentials(), nil
	case strings.HasPrefix(rpc, "https://"):
		return strings.TrimPrefix(rpc, "https://"), credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12}), nil
	}
	host, _, err := net.SplitHostPort(rpc)
	if err != nil {
		return "", nil, fmt.Errorf("%w: rpc %q: %v", chainlink.ErrBadRequest, rpc, err)
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return rpc, insecure.NewCredentials(), nil
	}
	return rpc, credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12}), nil
}

// Dial connects to the full node, reads the deployment (System and Staking
// objects, package) and starts the event index from cfg.StartCheckpoint.
// Close stops it.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.System.IsZero() || cfg.Staking.IsZero() {
		return nil, fmt.Errorf("%w: sui: system and staking object IDs are required", chainlink.ErrBadRequest)
	}
	if cfg.Keys == nil {
		cfg.Keys = chainlink.NewKeyring()
	}
	if cfg.Key != nil {
		cfg.Keys.AddAccount(cfg.Key)
	}
	if cfg.GasBudget == 0 {
		cfg.GasBudget = defaultBudget
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 100 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	target, creds, err := dialTarget(cfg.RPC)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxCallMsgBytes)))
	if err != nil {
		return nil, fmt.Errorf("sui: dial %s: %w", cfg.RPC, err)
	}
	c := &Client{cfg: cfg, log: cfg.Logger, conn: conn,
		ledger: pb.NewLedgerServiceClient(conn), state: pb.NewStateServiceClient(conn),
		exec: pb.NewTransactionExecutionServiceClient(conn)}
	if err := c.loadDeployment(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	var ds datastore.Batching
	if cfg.IndexDir != "" {
		pds, err := pebbleds.NewDatastore(cfg.IndexDir, pebbleds.WithPebbleWriteOptions(pebble.NoSync))
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("sui: index dir %s: %w", cfg.IndexDir, err)
		}
		ds, c.closeDS = pds, pds.Close
	}
	c.idx = newIndex(c, cfg.StartCheckpoint, ds)
	if err := c.idx.load(ctx); err != nil {
		if c.closeDS != nil {
			c.closeDS()
		}
		conn.Close()
		return nil, err
	}
	ictx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	go func() { defer close(c.done); c.idx.run(ictx) }()
	return c, nil
}

// Close stops the index and closes the connection.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	<-c.done
	c.idx.close()
	err := c.conn.Close()
	if c.closeDS != nil {
		err = errors.Join(err, c.closeDS())
	}
	return err
}

// Deployment returns the deployment the Client builds transactions for.
func (c *Client) Deployment() Deployment { return c.dep }

func (c *Client) loadDeployment(ctx context.Context) error {
	sysObj, err := c.object(ctx, c.cfg.System)
	if err != nil {
		return fmt.Errorf("sui: system object: %w", err)
	}
	sys, err := UnmarshalSystem(sysObj.bcs)
	if err != nil {
		return fmt.Errorf("sui: system object: %w", err)
	}
	stObj, err := c.object(ctx, c.cfg.Staking)
	if err != nil {
		return fmt.Errorf("sui: staking object: %w", err)
	}
	if sysObj.sharedVersion == 0 || stObj.sharedVersion == 0 {
		return fmt.Errorf("%w: sui: the system and staking objects are not shared", chainlink.ErrBadRequest)
	}
	tt, err := ParseTypeTag(sysObj.typ)
	if err != nil || tt.Struct == nil || tt.Struct.Module != "system" || tt.Struct.Name != "System" {
		return fmt.Errorf("%w: sui: %s is a %q, not a Walrus System", chainlink.ErrBadRequest, c.cfg.System, sysObj.typ)
	}
	c.typeOrigin = tt.Struct.Address
	c.packages = []Address{c.typeOrigin}
	if sys.PackageID != c.typeOrigin {
		c.packages = append(c.packages, sys.PackageID)
	}
	wal := c.cfg.WAL
	if wal == "" {
		wal = sys.PackageID.String() + "::wal::WAL"
	}
	walT, err := StructType(wal)
	if err != nil {
		return fmt.Errorf("%w: sui: WAL type %q: %v", chainlink.ErrBadRequest, wal, err)
	}
	c.dep = Deployment{
		Package: sys.PackageID,
		System:  SharedObject{ObjectID: c.cfg.System, InitialSharedVersion: sysObj.sharedVersion},
		Staking: SharedObject{ObjectID: c.cfg.Staking, InitialSharedVersion: stObj.sharedVersion},
		WAL:     walT,
	}
	if !c.cfg.Treasury.IsZero() {
		tr, err := c.object(ctx, c.cfg.Treasury)
		if err != nil {
			return fmt.Errorf("sui: treasury object: %w", err)
		}
		if tr.sharedVersion == 0 {
			return fmt.Errorf("%w: sui: the treasury %s is not shared", chainlink.ErrBadRequest, c.cfg.Treasury)
		}
		c.dep.Treasury = &SharedObject{ObjectID: c.cfg.Treasury, InitialSharedVersion: tr.sharedVersion}
	}
	return nil
}

// rpcErr maps a gRPC status onto chainlink's sentinels.
func rpcErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("sui: %s: %w", what, err)
	}
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.NotFound:
		return fmt.Errorf("sui: %s: %w: %s", what, chainlink.ErrNotFound, st.Message())
	case codes.InvalidArgument:
		return fmt.Errorf("sui: %s: %w: %s", what, chainlink.ErrBadRequest, st.Message())
	case codes.Unauthenticated, codes.PermissionDenied:
		return fmt.Errorf("sui: %s: %w: %s", what, chainlink.ErrUnauthorized, st.Message())
	case codes.ResourceExhausted:
		return fmt.Errorf("sui: %s: %w: %s", what, chainlink.ErrRateLimited, st.Message())
	case codes.Canceled:
		return fmt.Errorf("sui: %s: %w", what, context.Canceled)
	case codes.DeadlineExceeded:
		return fmt.Errorf("sui: %s: %w", what, context.DeadlineExceeded)
	}
	return fmt.Errorf("sui: %s: %w: %v", what, chainlink.ErrUnavailable, err)
}

// obj is an object as read: its reference, type, owner and BCS contents.
type obj struct {
	ref           ObjectRef
	typ           string
	owner         Address // address owner, zero otherwise
	sharedVersion uint64  // initial shared version of a shared object
	bcs           []byte  // Move struct contents
}

var objectMask = []string{"object_id", "version", "digest", "owner", "object_type", "contents"}

func objOf(o *pb.Object) (*obj, error) {
	if o == nil {
		return nil, fmt.Errorf("%w: no object in the response", chainlink.ErrUnavailable)
	}
	id, err := ParseAddress(o.GetObjectId())
	if err != nil {
		return nil, fmt.Errorf("%w: object ID %q", chainlink.ErrUnavailable, o.GetObjectId())
	}
	out := &obj{ref: ObjectRef{ObjectID: id, Version: o.GetVersion()}, typ: o.GetObjectType()}
	if d := o.GetDigest(); d != "" {
		if out.ref.Digest, err = ParseDigest(d); err != nil {
			return nil, fmt.Errorf("%w: object digest %q", chainlink.ErrUnavailable, d)
		}
	}
	if len(out.typ) > 4096 {
		return nil, fmt.Errorf("%w: object type of %d bytes", chainlink.ErrUnavailable, len(out.typ))
	}
	if ow := o.GetOwner(); ow != nil {
		switch ow.GetKind() {
		case pb.Owner_ADDRESS, pb.Owner_CONSENSUS_ADDRESS:
			if out.owner, err = ParseAddress(ow.GetAddress()); err != nil {
				return nil, fmt.Errorf("%w: owner %q", chainlink.ErrUnavailable, ow.GetAddress())
			}
		case pb.Owner_SHARED:
			out.sharedVersion = ow.GetVersion()
		}
	}
	out.bcs = o.GetContents().GetValue()
	if len(out.bcs) > maxObjectBytes {
		return nil, fmt.Errorf("%w: object of %d bytes", chainlink.ErrUnavailable, len(out.bcs))
	}
	return out, nil
}

func (c *Client) object(ctx context.Context, id Address) (*obj, error) {
	r, err := c.ledger.GetObject(ctx, &pb.GetObjectRequest{ObjectId: proto.String(id.String()), ReadMask: mask(objectMask...)})
	if err != nil {
		return nil, rpcErr("get object "+id.String(), err)
	}
	return objOf(r.GetObject())
}

func (c *Client) objects(ctx context.Context, ids []Address) ([]*obj, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	req := &pb.BatchGetObjectsRequest{ReadMask: mask(objectMask...)}
	for _, id := range ids {
		req.Requests = append(req.Requests, &pb.GetObjectRequest{ObjectId: proto.String(id.String())})
	}
	r, err := c.ledger.BatchGetObjects(ctx, req)
	if err != nil {
		return nil, rpcErr("batch get objects", err)
	}
	if len(r.GetObjects()) != len(ids) {
		return nil, fmt.Errorf("%w: %d objects for %d IDs", chainlink.ErrUnavailable, len(r.GetObjects()), len(ids))
	}
	out := make([]*obj, len(ids))
	for i, res := range r.GetObjects() {
		if e := res.GetError(); e != nil {
			return nil, fmt.Errorf("sui: object %s: %w: %s", ids[i], chainlink.ErrNotFound, e.GetMessage())
		}
		if out[i], err = objOf(res.GetObject()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// owned lists the objects of a type an address owns, every page.
func (c *Client) owned(ctx context.Context, owner Address, typ string) ([]*obj, error) {
	var out []*obj
	var token []byte
	for page := 0; ; page++ {
		if page > 100 {
			return nil, fmt.Errorf("%w: more than 100 pages of owned objects", chainlink.ErrUnavailable)
		}
		r, err := c.state.ListOwnedObjects(ctx, &pb.ListOwnedObjectsRequest{Owner: proto.String(owner.String()),
			ObjectType: proto.String(typ), PageSize: proto.Uint32(maxPage), PageToken: token, ReadMask: mask(objectMask...)})
		if err != nil {
			return nil, rpcErr("list owned objects", err)
		}
		for _, o := range r.GetObjects() {
			x, err := objOf(o)
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
		if token = r.GetNextPageToken(); len(token) == 0 {
			return out, nil
		}
	}
}

// Move types of the deployment.
func (c *Client) walrusType(module, name string) string {
	return c.typeOrigin.String() + "::" + module + "::" + name
}
func (c *Client) walCoinType() string { return "0x2::coin::Coin<" + c.dep.WAL.String() + ">" }

const suiCoinType = "0x2::coin::Coin<0x2::sui::SUI>"

func (c *Client) keyOf(op string, addr Address) (*account.Key, error) {
	k, ok := c.cfg.Keys.Account(addr)
	if !ok {
		return nil, &chainlink.MissingKeyError{Op: op, Scheme: chainlink.SchemeAccount, Signer: addr}
	}
	return k, nil
}

func (c *Client) defaultKey(op string) (*account.Key, error) {
	if c.cfg.Key == nil {
		return nil, &chainlink.MissingKeyError{Op: op, Scheme: chainlink.SchemeAccount}
	}
	return c.cfg.Key, nil
}

// CheckpointHeight is the full node's latest checkpoint.
func (c *Client) CheckpointHeight(ctx context.Context) (uint64, error) {
	r, err := c.ledger.GetServiceInfo(ctx, &pb.GetServiceInfoRequest{})
	if err != nil {
		return 0, rpcErr("service info", err)
	}
	return r.GetCheckpointHeight(), nil
}
