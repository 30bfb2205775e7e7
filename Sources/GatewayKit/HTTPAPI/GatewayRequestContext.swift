import SidecarServer

/// The Gateway's request context: the one both programs share.
public typealias GatewayRequestContext = SidecarRequestContext
