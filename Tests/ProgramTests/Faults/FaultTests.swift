import Testing

/// The fault tests of issue 9, one at a time: each starts its own processes (redis-server, Gateway,
/// AuthPlugin) and load, and timings mean something only when they do not compete with each other.
/// Each test prints what it counted as its last line (`faults <name>: ...`).
@Suite("Faults under load (real processes, loopback)", .serialized)
struct FaultTests {}
