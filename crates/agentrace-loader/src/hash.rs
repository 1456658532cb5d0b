//! Hash maps and sets of the extraction's hot paths (and of the server's ingest path, which uses
//! them too).
//!
//! They are keyed by span and trace ids (which clients choose) and by span indexes. std's SipHash
//! took about a sixth of the instructions of a live extraction; foldhash (already in the
//! dependency tree, through hashbrown) is several times cheaper per key and is seeded randomly
//! per process, so a client cannot choose ids that collide.

/// A hash map with foldhash's randomly seeded hasher.
pub type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A hash set with foldhash's randomly seeded hasher.
pub type Set<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
