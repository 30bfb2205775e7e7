import SidecarServer

/// AuthPlugin's request context: the one both programs share.
public typealias AuthPluginRequestContext = SidecarRequestContext
