// Package discovery finds the holders of a shard through a Kademlia DHT
// (go-libp2p-kad-dht) run under the network's own protocol prefix
// /floe/<network>, never the public IPFS DHT.
//
// Each shard has a key, ShardKey(network, shard): a CIDv1 (raw) of the
// SHA2-256 multihash of "floe/<network>/shard/<index>". A storage node
// (ModeServer) declares the shards it holds with SetShards; they are
// announced at once, retried until they succeed and re-announced every
// ReprovideInterval. FindShardHolders returns the reachable providers of a
// shard. The chain's committee says who is responsible for a shard; the DHT
// says where they and any extra holders can be reached. Light clients run
// ModeClient.
//
//	d, _ := discovery.New(h, discovery.DefaultConfig(network, discovery.ModeServer))
//	d.Start(ctx)            // dials BootstrapPeers, bootstraps the DHT
//	d.SetShards(myShards)   // on every epoch / shard change
//	holders, err := d.FindShardHolders(ctx, shard, 0)
//	defer d.Stop(ctx)
package discovery
