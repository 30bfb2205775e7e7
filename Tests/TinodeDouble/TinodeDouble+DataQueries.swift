extension TinodeDouble {
    /// The message limit of every data query answered so far, oldest first (at most 100, and 100
    /// when the client gave none): how large the pages were that a client asked for, each of which
    /// lands in its session's send queue at once.
    public var dataQueryLimits: [Int] {
        world.state.withLock { $0.dataQueryLimits }
    }
}
