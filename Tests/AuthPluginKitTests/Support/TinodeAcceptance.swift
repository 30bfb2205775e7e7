import Foundation

/// What Tinode v0.25.3 accepts from a REST-auth server (tinode-protocol.md 1.3, 1.5, 1.6, 1.11),
/// written as checks on the answer it would parse. Returns the problems found; empty means Tinode
/// takes the answer without a JSON error, a crash or a hang.
func tinodeProblems(endpoint: String, status: Int, json: [String: Any]?) -> [String] {
    var problems: [String] = []
    guard status >= 200, status < 300 else { return ["HTTP \(status): Tinode reads no body and answers 500"] }
    guard let json else { return ["body is not a JSON object: Tinode answers 500"] }
    if let err = json["err"] {
        guard let text = err as? String else { return ["`err` is not a string"] }
        if text == "redirected" { problems.append("`redirected` crashes Tinode") }
        if endpoint == "rtagns" { problems.append("any error from rtagns makes Tinode exit at boot") }
        if !text.isEmpty { return problems }
    }
    if let rec = json["rec"] {
        guard let rec = rec as? [String: Any] else { return problems + ["`rec` is not an object"] }
        if let uid = rec["uid"] {
            let text = uid as? String ?? ""
            let legal = text.utf8.count == 11 && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
            if !legal { problems.append("rec.uid \(uid) is not an 11-character base64url id (\"\" and null crash the login)") }
        }
        if let level = rec["authlvl"], !["", "anon", "ANON", "auth", "AUTH", "root", "ROOT"].contains(level as? String ?? "?") {
            problems.append("rec.authlvl \(level) is not anon/auth/root")
        }
        let stateKey = rec.keys.first { $0.lowercased() == "state" }
        if let stateKey, !["", "ok", "susp", "del", "undef"].contains((rec[stateKey] as? String)?.lowercased() ?? "?") {
            problems.append("rec.\(stateKey) \(rec[stateKey]!) is not ok/susp/del/undef")
        }
        if let features = rec["features"] {
            let fine = (features as? Int) != nil || ((features as? String)?.allSatisfy { "VvLl0123456789".contains($0) } ?? false)
            if !fine { problems.append("rec.features \(features) is not V/L letters or a number") }
        }
        if let tags = rec["tags"], !((tags as? [Any])?.allSatisfy { $0 is String } ?? false) {
            problems.append("rec.tags is not an array of strings")
        }
    }
    if endpoint == "auth" {
        if json["rec"] == nil { problems.append("an auth answer without rec is a 500") }
        if json["byteval"] != nil { problems.append("byteval in an auth answer is a challenge: the login does not complete") }
        if let rec = json["rec"] as? [String: Any], rec["uid"] == nil {
            guard let newacc = json["newacc"] as? [String: Any] else { return problems + ["a rec without uid needs newacc"] }
            if (newacc["auth"] as? String ?? "").isEmpty { problems.append("newacc.auth empty: nobody can reach the user") }
            if newacc["state"] != nil { problems.append("state belongs in rec, not newacc") }
        }
    }
    if endpoint == "add", json["rec"] == nil { problems.append("an add answer without rec crashes Tinode") }
    if endpoint == "checkunique", json["boolval"] as? Bool != true {
        problems.append("checkunique without err must answer boolval true (false alone makes Tinode answer 200 to a failed acc)")
    }
    if let byteval = json["byteval"] {
        if let text = byteval as? String, Data(base64Encoded: text) != nil {
        } else {
            problems.append("byteval is not padded standard base64")
        }
    }
    if let ts = json["ts"], !(ts is String) { problems.append("ts is not an RFC 3339 string") }
    return problems
}
