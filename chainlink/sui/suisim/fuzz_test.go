package suisim

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"os"
	"testing"

	pb "github.com/block-vision/sui-go-sdk/pb/sui/rpc/v2"

	"floe/chainlink"
	"floe/chainlink/account"
	"floe/chainlink/sui"
)

// FuzzExecuteTransaction submits arbitrary transactions, signed by a
// funded sender, to the stand-in's ExecuteTransaction: whatever decodes is
// interpreted against a live ledger. Nothing may panic, every answer is a
// gRPC error or effects with a status, and a failed transaction changes
// no balance.
func FuzzExecuteTransaction(f *testing.F) {
	if b, err := os.ReadFile("../testdata/transactions.json"); err == nil {
		var fx struct {
			Cases []struct {
				BCS string `json:"tx_bcs"`
			} `json:"cases"`
		}
		if json.Unmarshal(b, &fx) == nil {
			for _, c := range fx.Cases {
				if raw, err := base64.StdEncoding.DecodeString(c.BCS); err == nil {
					f.Add(raw)
				}
			}
		}
	}
	f.Add([]byte{0})
	ctx := context.Background()
	l, err := chainlink.Open(ctx, chainlink.NewMemDatastore(), chainlink.WithShards(10), chainlink.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { l.Close() })
	s, err := New(ctx, l, chainlink.NewMemDatastore(), slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	seed := sha256.Sum256([]byte("suisim fuzz sender"))
	key, err := account.FromSeed(seed[:])
	if err != nil {
		f.Fatal(err)
	}
	sender := chainlink.AccountID(key)
	if _, err := l.Faucet(ctx, sender, 1_000_000); err != nil {
		f.Fatal(err)
	}
	svc := &execSvc{s: s}
	f.Fuzz(func(t *testing.T, b []byte) {
		td, err := sui.UnmarshalTransactionData(b)
		if err != nil {
			return
		}
		td.Sender = sender
		raw := td.Marshal()
		before, _ := l.Account(ctx, sender)
		r, err := svc.ExecuteTransaction(ctx, &pb.ExecuteTransactionRequest{
			Transaction: &pb.Transaction{Bcs: &pb.Bcs{Value: raw}},
			Signatures:  []*pb.UserSignature{{Bcs: &pb.Bcs{Value: sui.SignTransaction(key, raw)}}},
		})
		if err != nil {
			return
		}
		st := r.GetTransaction().GetEffects().GetStatus()
		if st == nil {
			t.Fatal("effects without a status")
		}
		if !st.GetSuccess() {
			if after, _ := l.Account(ctx, sender); after.Balance != before.Balance {
				t.Fatalf("a failed transaction moved %d → %d", before.Balance, after.Balance)
			}
		}
	})
}
