/// `development` is forgiving (generated secrets, embedded store); `production` refuses to start
/// with anything weak or missing.
public enum DeploymentEnvironment: String, Sendable {
    case development
    case production
}
