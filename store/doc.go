// Package store is a storage node's durable state on go-datastore.
package store
