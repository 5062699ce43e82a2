//! The hash maps of the planner. `std`'s `SipHash` dominated profiles at a million manifests;
//! foldhash is several times faster and still seeded per process, so crafted digests cannot
//! be aimed at it. Nothing the core outputs depends on iteration order of these maps.

/// A hash map with the fast hasher.
pub(crate) type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// A hash set with the fast hasher.
pub(crate) type Set<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// An empty map sized for `n` entries.
pub(crate) fn map<K, V>(n: usize) -> Map<K, V> {
    Map::with_capacity_and_hasher(n, foldhash::fast::RandomState::default())
}

/// An empty set sized for `n` entries.
pub(crate) fn set<K>(n: usize) -> Set<K> {
    Set::with_capacity_and_hasher(n, foldhash::fast::RandomState::default())
}
