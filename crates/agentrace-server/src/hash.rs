//! Hash maps and sets of the ingest path.
//!
//! They are keyed by session ids, trace ids and span ids, which clients choose. std's SipHash
//! was about 4 % of the instructions per ingested span (callgrind, stop 13); foldhash (the
//! loader's choice too, `agentrace_loader`'s `hash.rs`) is several times cheaper per key and is
//! seeded randomly per process, so a client cannot choose ids that collide.

/// A hash map with foldhash's randomly seeded hasher.
pub(crate) type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A hash set with foldhash's randomly seeded hasher.
pub(crate) type Set<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
