package suisim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	pb "github.com/block-vision/sui-go-sdk/pb/sui/rpc/v2"
	"github.com/ipfs/go-datastore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"floe/chainlink"
	"floe/chainlink/sui"
)

func datastoreKey(prefix string, id Address) datastore.Key {
	return datastore.NewKey(prefix + id.String())
}

// Limits of what the stand-in accepts.
const (
	maxBatch     = 1000
	maxPageSize  = 1000
	maxSigBytes  = 1024
	maxRecvBytes = 1 << 20
)

func grpcErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, chainlink.ErrNotFound), errors.Is(err, datastore.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, chainlink.ErrBadRequest):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Unavailable, err.Error())
}

type ledgerSvc struct {
	pb.UnimplementedLedgerServiceServer
	s *Sim
}
type stateSvc struct {
	pb.UnimplementedStateServiceServer
	s *Sim
}
type execSvc struct {
	pb.UnimplementedTransactionExecutionServiceServer
	s *Sim
}
type subSvc struct {
	pb.UnimplementedSubscriptionServiceServer
	s *Sim
}

// Register adds the stand-in's services to a gRPC server.
func (s *Sim) Register(g *grpc.Server) {
	pb.RegisterLedgerServiceServer(g, &ledgerSvc{s: s})
	pb.RegisterStateServiceServer(g, &stateSvc{s: s})
	pb.RegisterTransactionExecutionServiceServer(g, &execSvc{s: s})
	pb.RegisterSubscriptionServiceServer(g, &subSvc{s: s})
}

func (s *Sim) lock(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return chainlink.ErrClosed
	}
	if err := s.flush(ctx); err != nil {
		s.mu.Unlock()
		return err
	}
	return nil
}

func (l *ledgerSvc) GetServiceInfo(ctx context.Context, _ *pb.GetServiceInfoRequest) (*pb.GetServiceInfoResponse, error) {
	s := l.s
	if err := s.lock(ctx); err != nil {
		return nil, grpcErr(err)
	}
	defer s.mu.Unlock()
	es, err := s.l.EpochState(ctx)
	if err != nil {
		return nil, grpcErr(err)
	}
	return &pb.GetServiceInfoResponse{ChainId: proto.String(sui.Digest(derive("chain")).String()), Chain: proto.String("floe-sui-sim"),
		Epoch: proto.Uint64(uint64(es.Epoch)), CheckpointHeight: proto.Uint64(s.meta.LastCheckpoint),
		LowestAvailableCheckpoint: proto.Uint64(0), Server: proto.String("floe suisim")}, nil
}

func (s *Sim) getObject(ctx context.Context, ids string) (*pb.Object, error) {
	id, err := sui.ParseAddress(ids)
	if err != nil {
		return nil, fmt.Errorf("%w: object ID %q", chainlink.ErrBadRequest, ids)
	}
	o, err := s.objectByID(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.toPB(o), nil
}

func (l *ledgerSvc) GetObject(ctx context.Context, r *pb.GetObjectRequest) (*pb.GetObjectResponse, error) {
	s := l.s
	if err := s.lock(ctx); err != nil {
		return nil, grpcErr(err)
	}
	defer s.mu.Unlock()
	if r.Version != nil {
		return nil, status.Error(codes.Unimplemented, "suisim: objects at past versions are not kept")
	}
	o, err := s.getObject(ctx, r.GetObjectId())
	if err != nil {
		return nil, grpcErr(err)
	}
	return &pb.GetObjectResponse{Object: o}, nil
}

func (l *ledgerSvc) BatchGetObjects(ctx context.Context, r *pb.BatchGetObjectsRequest) (*pb.BatchGetObjectsResponse, error) {
	s := l.s
	if len(r.GetRequests()) > maxBatch {
		return nil, status.Errorf(codes.InvalidArgument, "suisim: %d objects in one batch, at most %d", len(r.GetRequests()), maxBatch)
	}
	if err := s.lock(ctx); err != nil {
		return nil, grpcErr(err)
	}
	defer s.mu.Unlock()
	out := &pb.BatchGetObjectsResponse{}
	for _, q := range r.GetRequests() {
		o, err := s.getObject(ctx, q.GetObjectId())
		if err != nil {
			st, _ := status.FromError(grpcErr(err))
			out.Objects = append(out.Objects, &pb.GetObjectResult{Result: &pb.GetObjectResult_Error{Error: st.Proto()}})
			continue
		}
		out.Objects = append(out.Objects, &pb.GetObjectResult{Result: &pb.GetObjectResult_Object{Object: o}})
	}
	return out, nil
}

func (l *ledgerSvc) GetCheckpoint(ctx context.Context, r *pb.GetCheckpointRequest) (*pb.GetCheckpointResponse, error) {
	s := l.s
	if err := s.lock(ctx); err != nil {
		return nil, grpcErr(err)
	}
	last := s.meta.LastCheckpoint
	s.mu.Unlock()
	var seq uint64
	switch id := r.GetCheckpointId().(type) {
	case *pb.GetCheckpointRequest_SequenceNumber:
		seq = id.SequenceNumber
	case nil:
		seq = last
	default:
		return nil, status.Error(codes.Unimplemented, "suisim: checkpoints by digest")
	}
	if seq > last {
		return nil, status.Errorf(codes.NotFound, "suisim: checkpoint %d not yet (latest %d)", seq, last)
	}
	cp, err := s.checkpoint(ctx, seq)
	if err != nil {
		return nil, grpcErr(err)
	}
	return &pb.GetCheckpointResponse{Checkpoint: cp}, nil
}

func (st *stateSvc) ListOwnedObjects(ctx context.Context, r *pb.ListOwnedObjectsRequest) (*pb.ListOwnedObjectsResponse, error) {
	s := st.s
	owner, err := sui.ParseAddress(r.GetOwner())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "suisim: owner %q", r.GetOwner())
	}
	if len(r.GetPageToken()) > 0 {
		return nil, status.Error(codes.InvalidArgument, "suisim: unknown page token")
	}
	if err := s.lock(ctx); err != nil {
		return nil, grpcErr(err)
	}
	defer s.mu.Unlock()
	objs, err := s.owned(ctx, owner, r.GetObjectType())
	if err != nil {
		return nil, grpcErr(err)
	}
	if len(objs) > maxPageSize {
		return nil, status.Errorf(codes.ResourceExhausted, "suisim: %d objects (paging is not implemented)", len(objs))
	}
	out := &pb.ListOwnedObjectsResponse{}
	for _, o := range objs {
		out.Objects = append(out.Objects, s.toPB(o))
	}
	return out, nil
}

func (st *stateSvc) GetBalance(ctx context.Context, r *pb.GetBalanceRequest) (*pb.GetBalanceResponse, error) {
	s := st.s
	owner, err := sui.ParseAddress(r.GetOwner())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "suisim: owner %q", r.GetOwner())
	}
	if err := s.lock(ctx); err != nil {
		return nil, grpcErr(err)
	}
	defer s.mu.Unlock()
	var bal uint64
	switch r.GetCoinType() {
	case s.WALType():
		a, err := s.l.Account(ctx, owner)
		if err != nil && !errors.Is(err, chainlink.ErrNotFound) {
			return nil, grpcErr(err)
		}
		bal = a.Balance
	case "0x2::sui::SUI":
		bal = GasBalance
	}
	return &pb.GetBalanceResponse{Balance: &pb.Balance{CoinType: proto.String(r.GetCoinType()), Balance: proto.Uint64(bal)}}, nil
}

func (st *stateSvc) ListDynamicFields(ctx context.Context, r *pb.ListDynamicFieldsRequest) (*pb.ListDynamicFieldsResponse, error) {
	s := st.s
	parent, err := sui.ParseAddress(r.GetParent())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "suisim: parent %q", r.GetParent())
	}
	if parent != s.system && parent != s.staking {
		return &pb.ListDynamicFieldsResponse{}, nil
	}
	id := sui.VersionedFieldID(parent, 1)
	name := make([]byte, 8)
	name[0] = 1 // the u64 version key
	inner := s.typ("system_state_inner", "SystemStateInnerV1")
	if parent == s.staking {
		inner = s.typ("staking_inner", "StakingInnerV1")
	}
	return &pb.ListDynamicFieldsResponse{DynamicFields: []*pb.DynamicField{{
		Kind: pb.DynamicField_FIELD.Enum(), Parent: proto.String(parent.String()), FieldId: proto.String(id.String()),
		Name: &pb.Bcs{Name: proto.String("u64"), Value: name}, ValueType: proto.String(inner)}}}, nil
}

func (e *execSvc) ExecuteTransaction(ctx context.Context, r *pb.ExecuteTransactionRequest) (*pb.ExecuteTransactionResponse, error) {
	s := e.s
	raw := r.GetTransaction().GetBcs().GetValue()
	if len(raw) == 0 || len(raw) > sui.MaxTxBytes {
		return nil, status.Errorf(codes.InvalidArgument, "suisim: transaction of %d bytes", len(raw))
	}
	td, err := sui.UnmarshalTransactionData(raw)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "suisim: %v", err)
	}
	if len(r.GetSignatures()) != 1 || len(r.GetSignatures()[0].GetBcs().GetValue()) > maxSigBytes {
		return nil, status.Error(codes.InvalidArgument, "suisim: want exactly one signature (no multisig or sponsors)")
	}
	signer, err := sui.VerifyTransactionSignature(raw, r.GetSignatures()[0].GetBcs().GetValue())
	if err != nil || signer != td.Sender {
		return nil, status.Errorf(codes.InvalidArgument, "suisim: signature does not verify for sender %s: %v", td.Sender, err)
	}
	if err := s.lock(ctx); err != nil {
		return nil, grpcErr(err)
	}
	defer s.mu.Unlock()
	ctx = context.WithoutCancel(ctx) // once started, a transaction completes
	es, err := s.l.EpochState(ctx)
	if err != nil {
		return nil, grpcErr(err)
	}
	created, mutated, err := s.execute(ctx, td)
	var te *txError
	if err != nil && !errors.As(err, &te) {
		return nil, grpcErr(err)
	}
	seq := s.meta.LastCheckpoint + 1
	digest := sui.TransactionDigest(raw).String()
	eff := &pb.TransactionEffects{Status: &pb.ExecutionStatus{Success: proto.Bool(te == nil)}, Epoch: proto.Uint64(uint64(es.Epoch)),
		TransactionDigest: proto.String(digest)}
	t := &pb.ExecutedTransaction{Digest: proto.String(digest),
		Transaction: &pb.Transaction{Bcs: &pb.Bcs{Name: proto.String("TransactionData"), Value: raw}, Digest: proto.String(digest), Sender: proto.String(td.Sender.String())},
		Signatures:  r.GetSignatures(), Effects: eff, Checkpoint: proto.Uint64(seq), Objects: &pb.ObjectSet{}}
	if te != nil {
		ee := &pb.ExecutionError{Description: proto.String(te.Error()), Kind: te.kind.Enum()}
		if te.kind == pb.ExecutionError_MOVE_ABORT {
			ee.ErrorDetails = &pb.ExecutionError_Abort{Abort: &pb.MoveAbort{AbortCode: proto.Uint64(te.code),
				Location: &pb.MoveLocation{Package: proto.String(te.pkg.String()), Module: proto.String(te.module), FunctionName: proto.String(te.function)}}}
		}
		eff.Status.Error = ee
		s.log.Debug("suisim: transaction failed", "digest", digest, "err", te.err)
	} else {
		evs, _, err := s.l.EventsAfter(ctx, s.meta.LastCursor, chainlink.MaxEventBatch)
		if err != nil {
			return nil, grpcErr(err)
		}
		if len(evs) > 0 {
			s.meta.LastCursor = evs[len(evs)-1].Cursor
		}
		t.Events = &pb.TransactionEvents{Events: s.walrusEvents(evs)}
		for _, o := range created {
			eff.ChangedObjects = append(eff.ChangedObjects, &pb.ChangedObject{ObjectId: proto.String(o.id.String()),
				IdOperation: pb.ChangedObject_CREATED.Enum(), ObjectType: proto.String(o.typ)})
		}
		for _, o := range mutated {
			eff.ChangedObjects = append(eff.ChangedObjects, &pb.ChangedObject{ObjectId: proto.String(o.id.String()),
				IdOperation: pb.ChangedObject_NONE.Enum(), ObjectType: proto.String(o.typ)})
		}
	}
	// The objects are at the new checkpoint's version.
	s.meta.LastCheckpoint = seq
	for _, o := range append(created, mutated...) {
		t.Objects.Objects = append(t.Objects.Objects, s.toPB(o))
	}
	s.meta.LastCheckpoint = seq - 1
	if err := s.putCheckpoint(ctx, &pb.Checkpoint{SequenceNumber: proto.Uint64(seq), Transactions: []*pb.ExecutedTransaction{t}}); err != nil {
		return nil, grpcErr(err)
	}
	return &pb.ExecuteTransactionResponse{Transaction: t}, nil
}

func (sub *subSvc) SubscribeCheckpoints(_ *pb.SubscribeCheckpointsRequest, stream grpc.ServerStreamingServer[pb.SubscribeCheckpointsResponse]) error {
	s := sub.s
	ctx := stream.Context()
	if err := s.lock(ctx); err != nil {
		return grpcErr(err)
	}
	next, wake := s.meta.LastCheckpoint+1, s.notify
	s.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		}
		if err := s.lock(ctx); err != nil {
			return grpcErr(err)
		}
		last := s.meta.LastCheckpoint
		wake = s.notify
		s.mu.Unlock()
		for ; next <= last; next++ {
			cp, err := s.checkpoint(ctx, next)
			if err != nil {
				return grpcErr(err)
			}
			if err := stream.Send(&pb.SubscribeCheckpointsResponse{Cursor: proto.Uint64(next), Checkpoint: cp}); err != nil {
				return err
			}
		}
	}
}

// ---------------------------------------------------------------- faucet

// FaucetHandler is the stand-in's faucet (doc.go).
func (s *Sim) FaucetHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/gas", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Fixed struct {
				Recipient string `json:"recipient"`
			} `json:"FixedAmountRequest"`
			WALAmount uint64 `json:"wal_amount"`
		}
		w.Header().Set("Content-Type", "application/json")
		b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil || json.Unmarshal(b, &req) != nil {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"status": "Failure", "error": "malformed request"})
			return
		}
		addr, err := sui.ParseAddress(req.Fixed.Recipient)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"status": "Failure", "error": err.Error()})
			return
		}
		if req.WALAmount > 0 {
			if _, err := s.l.Faucet(r.Context(), addr, req.WALAmount); err != nil {
				w.WriteHeader(http.StatusInternalServerError)
				json.NewEncoder(w).Encode(map[string]string{"status": "Failure", "error": err.Error()})
				return
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"status": "Success", "wal_credited": req.WALAmount,
			"coins_sent": []map[string]any{{"amount": GasBalance, "id": s.gasCoin(addr).id.String()}}})
	})
	return mux
}

// ---------------------------------------------------------------- serving

// Server is a running stand-in: gRPC and faucet on loopback listeners.
type Server struct {
	Sim       *Sim
	RPCAddr   string // host:port of the gRPC server
	FaucetURL string // http://host:port of the faucet
	grpc      *grpc.Server
	http      *http.Server
	done      chan struct{}
	after     []func() error // StartDir: the ledger and its datastore
	once      sync.Once
}

// Serve serves s on rpc and faucet listeners until Close.
func Serve(s *Sim, rpc, faucet net.Listener) *Server {
	g := grpc.NewServer(grpc.MaxRecvMsgSize(maxRecvBytes))
	s.Register(g)
	h := &http.Server{Handler: s.FaucetHandler(), ReadHeaderTimeout: 10 * time.Second}
	srv := &Server{Sim: s, RPCAddr: rpc.Addr().String(), FaucetURL: "http://" + faucet.Addr().String(), grpc: g, http: h, done: make(chan struct{})}
	go func() {
		defer close(srv.done)
		if err := g.Serve(rpc); err != nil {
			s.log.Error("suisim: grpc", "err", err)
		}
	}()
	go func() {
		if err := h.Serve(faucet); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("suisim: faucet", "err", err)
		}
	}()
	return srv
}

// Close stops the servers (open streams end) and marks the stand-in
// closed; it does not close the ledger.
func (srv *Server) Close() error {
	var err error
	srv.once.Do(func() { err = srv.close() })
	return err
}

func (srv *Server) close() error {
	srv.Sim.mu.Lock()
	srv.Sim.closed = true
	close(srv.Sim.notify)
	srv.Sim.notify = make(chan struct{})
	srv.Sim.mu.Unlock()
	srv.grpc.Stop()
	<-srv.done
	errs := []error{srv.http.Close()}
	for _, f := range srv.after {
		errs = append(errs, f())
	}
	return errors.Join(errs...)
}
