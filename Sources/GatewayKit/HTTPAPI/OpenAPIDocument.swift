import Foundation

/// The OpenAPI 3.1 description of the Gateway's HTTP API, served at `GET /openapi.json`. A test
/// checks its paths against the routes the Gateway serves.
enum OpenAPIDocument {
    static let json: Data = {
        (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    }()

    private static func ref(_ name: String) -> [String: Any] { ["$ref": "#/components/schemas/\(name)"] }
    private static func jsonContent(_ schema: [String: Any]) -> [String: Any] { ["application/json": ["schema": schema]] }
    private static func error(_ description: String) -> [String: Any] {
        ["description": description, "content": jsonContent(ref("Error"))]
    }
    private static let bearer: [[String: [String]]] = [["bearer": []]]
    private static var unavailable: [String: Any] { error("Tinode or the token store is unavailable (with Retry-After).") }

    /// Built on each use (a dictionary of `Any` cannot be a shared constant); `json` keeps the bytes.
    static var document: [String: Any] {
        [
            "openapi": "3.1.0",
            "info": [
                "title": "tinode-sidecar Gateway", "version": "1",
                "description": "Register, log in and chat in one Tinode group room over plain HTTP.",
            ],
            "paths": [
                "/v1/auth/register": [
                    "post": [
                        "summary": "Create an account (and log in when e-mail verification is off)",
                        "requestBody": ["required": true, "content": jsonContent(ref("Registration"))],
                        "responses": [
                            "201": ["description": "Registered (verification off)", "content": jsonContent(ref("TokenPair"))],
                            "202": [
                                "description": "Verification pending: a new address got a code, a known one nothing; the answers are alike",
                                "content": jsonContent(ref("VerificationPending")),
                            ],
                            "400": error("Missing or mistyped field."),
                            "409": error("The address is registered already (verification off only)."),
                            "422": error("Address or password refused."), "429": error("Too many attempts."), "503": unavailable,
                        ],
                    ]
                ],
                "/v1/auth/verify": [
                    "post": [
                        "summary": "Prove the address with the mailed code and the password; answers the token pair",
                        "requestBody": ["required": true, "content": jsonContent(ref("Verification"))],
                        "responses": [
                            "200": ["description": "Verified and logged in", "content": jsonContent(ref("TokenPair"))],
                            "400": error("Missing field, or a wrong or replaced code (invalid_code)."),
                            "401": error("Wrong address or password."), "404": error("Verification is off."),
                            "422": error("Too many wrong codes; request a new one."), "429": error("Too many attempts."),
                            "503": unavailable,
                        ],
                    ]
                ],
                "/v1/auth/verify/resend": [
                    "post": [
                        "summary": "Have Tinode mail a new code (the old one stops working)",
                        "requestBody": ["required": true, "content": jsonContent(ref("Credentials"))],
                        "responses": [
                            "202": ["description": "A new code was sent", "content": jsonContent(ref("VerificationPending"))],
                            "400": error("Missing or mistyped field."), "401": error("Wrong address or password."),
                            "404": error("Verification is off."), "409": error("The address is verified already."),
                            "429": error("Too many attempts or codes."), "503": unavailable,
                        ],
                    ]
                ],
                "/v1/auth/login": [
                    "post": [
                        "summary": "Log in with e-mail and password",
                        "requestBody": ["required": true, "content": jsonContent(ref("Credentials"))],
                        "responses": [
                            "200": ["description": "Logged in", "content": jsonContent(ref("TokenPair"))],
                            "400": error("Missing or mistyped field."), "401": error("Wrong address or password."),
                            "403": error("The address is not verified yet (email_unverified)."),
                            "422": error("Too many wrong codes."), "429": error("Too many attempts."), "503": unavailable,
                        ],
                    ]
                ],
                "/v1/auth/external": [
                    "post": [
                        "summary": "Exchange a JWT of your backend (EXTERNAL_JWT_ISSUER) for a token pair of the same Tinode account",
                        "requestBody": [
                            "required": true,
                            "content": jsonContent([
                                "type": "object", "required": ["token"], "properties": ["token": ["type": "string"]],
                            ]),
                        ],
                        "responses": [
                            "200": ["description": "Logged in", "content": jsonContent(ref("TokenPair"))],
                            "400": error("Missing or mistyped field."), "401": error("The token is refused."),
                            "404": error("No backend issuer is configured."), "429": error("Too many attempts."),
                            "503": unavailable,
                        ],
                    ]
                ],
                "/v1/auth/refresh": [
                    "post": [
                        "summary": "Exchange a refresh token for a new pair (each works once)",
                        "requestBody": [
                            "required": true,
                            "content": jsonContent([
                                "type": "object", "required": ["refresh_token"], "properties": ["refresh_token": ["type": "string"]],
                            ]),
                        ],
                        "responses": [
                            "200": ["description": "New pair", "content": jsonContent(ref("TokenPair"))],
                            "401": error(
                                "Invalid, expired or reused refresh token (reuse ends every login of the user; the same token again within GATEWAY_REFRESH_RETRY_SECONDS is a retry and gets the same pair)."
                            ),
                            "429": error("Too many refreshes."), "503": unavailable,
                        ],
                    ]
                ],
                "/v1/auth/logout": [
                    "post": [
                        "summary":
                            "End this login: its refresh family and every access token it produced; its live streams end on every instance",
                        "security": bearer,
                        "responses": ["204": ["description": "Logged out"], "401": error("Invalid token."), "503": unavailable],
                    ]
                ],
                "/v1/auth/logout-all": [
                    "post": [
                        "summary": "End every login of the user, and the Tinode tokens issued until now", "security": bearer,
                        "responses": ["204": ["description": "Logged out everywhere"], "401": error("Invalid token."), "503": unavailable],
                    ]
                ],
                "/v1/me": [
                    "get": [
                        "summary": "Who the token belongs to", "security": bearer,
                        "responses": [
                            "200": ["description": "The user", "content": jsonContent(ref("Me"))], "401": error("Invalid token."),
                            "503": unavailable,
                        ],
                    ]
                ],
                "/v1/messages": [
                    "post": [
                        "summary": "Send a message to the chat room", "security": bearer,
                        "parameters": [
                            [
                                "name": "Idempotency-Key", "in": "header", "required": false,
                                "schema": ["type": "string", "maxLength": 200],
                                "description": "A retry with the same key returns the first answer (kept 24 h).",
                            ]
                        ],
                        "requestBody": ["required": true, "content": jsonContent(ref("NewMessage"))],
                        "responses": [
                            "201": ["description": "Stored", "content": jsonContent(ref("SendReceipt"))],
                            "400": error("Neither text nor content."), "401": error("Invalid token."),
                            "409": error("The same Idempotency-Key is in progress."), "413": error("Message too large."),
                            "415": error("Not JSON."),
                            "422": error("The Idempotency-Key was used with another message (idempotency_key_reused)."),
                            "429": error("Too many messages."), "503": unavailable,
                        ],
                    ],
                    "get": [
                        "summary": "A page of history, newest first (from Tinode's MongoDB when MONGO_URL is set)",
                        "security": bearer,
                        "parameters": [
                            ["name": "before", "in": "query", "required": false, "schema": ["type": "integer", "minimum": 1]],
                            [
                                "name": "limit", "in": "query", "required": false,
                                "schema": ["type": "integer", "minimum": 1, "maximum": 1000, "default": 50],
                                "description": "At most 100 through Tinode's protocol, 1000 from MongoDB.",
                            ],
                        ],
                        "responses": [
                            "200": ["description": "The page", "content": jsonContent(ref("HistoryPage"))],
                            "400": error("Bad paging parameters."), "401": error("Invalid token."),
                            "403": error("The account is suspended, or may not read the room."), "404": error("The room is gone."),
                            "503": error("Tinode, MongoDB or the token store is unavailable (with Retry-After)."),
                        ],
                    ],
                ],
                "/v1/messages/stream": [
                    "get": [
                        "summary": "Live messages as Server-Sent Events (id = seq)", "security": bearer,
                        "parameters": [
                            [
                                "name": "Last-Event-ID", "in": "header", "required": false,
                                "schema": ["type": "integer", "minimum": 0, "maximum": 2_147_483_647],
                                "description":
                                    "Replay the messages after this seq first (at most GATEWAY_MAX_REPLAY, after a `reset` event when more were missed).",
                            ]
                        ],
                        "responses": [
                            "200": [
                                "description":
                                    "An event stream: `message` events (id = seq, data = Message); a first `reset` event (data = ReplayReset) when more than GATEWAY_MAX_REPLAY were missed; a last `revoked` event (data = StreamRevoked) when the token stops working (revoked, refreshed away, expired)",
                                "content": ["text/event-stream": ["schema": ["type": "string"]]],
                            ],
                            "400": error("Last-Event-ID is not a seq."), "401": error("Invalid token."),
                            "429": error("The user holds GATEWAY_MAX_STREAMS_PER_USER live streams already (too_many_streams)."),
                            "503": unavailable,
                        ],
                    ]
                ],
                "/v1/ws": [
                    "get": [
                        "summary":
                            "The live feed and sending over a WebSocket (token as Bearer or ?access_token=; ?last_event_id= resumes)",
                        "security": bearer,
                        "responses": [
                            "101": [
                                "description":
                                    "Switching to WebSocket; frames are JSON: message, reset (as ReplayReset, with type), send, sent, error. Close 4001 (reason token_revoked or token_expired) when the token stops working; 1008 too_many_streams beyond GATEWAY_MAX_STREAMS_PER_USER."
                            ],
                            "400": error("last_event_id is not a seq."), "401": error("Invalid token."),
                            "426": error("Not a WebSocket request."),
                            "429": error("The user holds GATEWAY_MAX_STREAMS_PER_USER live streams already (too_many_streams)."),
                        ],
                    ]
                ],
                "/v1/users/{user_id}": [
                    "get": [
                        "summary": "A user who shares the chat room with the caller (needs MONGO_URL)", "security": bearer,
                        "parameters": [
                            [
                                "name": "user_id", "in": "path", "required": true,
                                "schema": ["type": "string", "pattern": "^usr[A-Za-z0-9_-]{11}$"],
                            ]
                        ],
                        "responses": [
                            "200": ["description": "The user", "content": jsonContent(ref("DirectoryUser"))],
                            "400": error("Not a Tinode user id."), "401": error("Invalid token."),
                            "403": error("The caller may not read the room."),
                            "404": error("No active user with this id shares the room with the caller."),
                            "501": error("MONGO_URL is not set."),
                            "503": error("MongoDB or the token store is unavailable (with Retry-After)."),
                        ],
                    ]
                ],
                "/healthz": ["get": ["summary": "The process is alive", "responses": ["200": ["description": "Alive"]]]],
                "/readyz": [
                    "get": [
                        "summary": "The token store answers and the chat room is known",
                        "responses": [
                            "200": ["description": "Ready"],
                            "503": [
                                "description": "Not ready (with Retry-After): which dependencies failed, never their addresses",
                                "content": jsonContent(ref("NotReady")),
                            ],
                        ],
                    ]
                ],
                "/openapi.json": ["get": ["summary": "This document", "responses": ["200": ["description": "OpenAPI 3.1"]]]],
            ],
            "components": [
                "securitySchemes": ["bearer": ["type": "http", "scheme": "bearer", "bearerFormat": "JWT"]],
                "schemas": [
                    "Error": [
                        "type": "object", "required": ["error"],
                        "properties": [
                            "error": [
                                "type": "object", "required": ["code", "message"],
                                "properties": ["code": ["type": "string"], "message": ["type": "string"]],
                            ]
                        ],
                    ],
                    "Registration": [
                        "type": "object", "required": ["email", "password"],
                        "properties": [
                            "email": ["type": "string", "format": "email"], "password": ["type": "string"], "name": ["type": "string"],
                        ],
                    ],
                    "Verification": [
                        "type": "object", "required": ["email", "password", "code"],
                        "properties": [
                            "email": ["type": "string", "format": "email"], "password": ["type": "string"],
                            "code": ["type": "string", "maxLength": 32],
                        ],
                    ],
                    "VerificationPending": [
                        "type": "object", "required": ["verification", "email"],
                        "properties": ["verification": ["type": "string", "enum": ["pending"]], "email": ["type": "string"]],
                    ],
                    "Credentials": [
                        "type": "object", "required": ["email", "password"],
                        "properties": ["email": ["type": "string", "format": "email"], "password": ["type": "string"]],
                    ],
                    "TokenPair": [
                        "type": "object",
                        "required": ["user_id", "login", "access_token", "refresh_token", "token_type", "expires_in"],
                        "properties": [
                            "user_id": ["type": "string"],
                            "login": ["type": ["string", "null"], "description": "null for an account made through REST-auth"],
                            "access_token": ["type": "string"],
                            "refresh_token": ["type": "string"], "token_type": ["const": "Bearer"],
                            "expires_in": ["type": "integer", "description": "Seconds the access token lives."],
                        ],
                    ],
                    "Me": [
                        "type": "object", "required": ["user_id", "login", "email", "email_verified", "name"],
                        "properties": [
                            "user_id": ["type": "string"], "login": ["type": ["string", "null"]], "email": ["type": ["string", "null"]],
                            "email_verified": ["type": "boolean"], "name": ["type": ["string", "null"]],
                        ],
                    ],
                    "NewMessage": [
                        "type": "object",
                        "properties": [
                            "text": ["type": "string"],
                            "content": ["type": "object", "description": "Drafty (sent with head mime text/x-drafty)"],
                        ],
                        "oneOf": [["required": ["text"]], ["required": ["content"]]],
                    ],
                    "ReplayReset": [
                        "type": "object", "required": ["from_seq", "last_event_id", "latest_seq", "reason"],
                        "properties": [
                            "from_seq": ["type": "integer"], "last_event_id": ["type": "integer"], "latest_seq": ["type": "integer"],
                            "reason": ["type": "string", "enum": ["replay_limit"]],
                        ],
                    ],
                    "StreamRevoked": [
                        "type": "object", "required": ["reason"],
                        "properties": ["reason": ["type": "string", "enum": ["token_revoked", "token_expired"]]],
                    ],
                    "SendReceipt": [
                        "type": "object", "required": ["seq", "topic", "ts"],
                        "properties": [
                            "seq": ["type": "integer"], "topic": ["type": "string"], "ts": ["type": "string", "format": "date-time"],
                        ],
                    ],
                    "Message": [
                        "type": "object", "required": ["seq", "from", "ts"],
                        "properties": [
                            "seq": ["type": "integer"], "from": ["type": "string"], "text": ["type": "string"],
                            "content": ["description": "Non-text content (Drafty)"], "ts": ["type": "string", "format": "date-time"],
                        ],
                    ],
                    "DirectoryUser": [
                        "type": "object", "required": ["user_id", "name", "login"],
                        "properties": [
                            "user_id": ["type": "string"], "name": ["type": ["string", "null"]],
                            "login": ["type": ["string", "null"], "description": "The basic login; null for accounts without one."],
                        ],
                    ],
                    "NotReady": [
                        "type": "object", "required": ["status", "failed", "problems"],
                        "properties": [
                            "status": ["const": "not ready"],
                            "failed": ["type": "array", "items": ["type": "string", "enum": ["token_store", "tinode"]]],
                            "problems": ["type": "array", "items": ["type": "string"], "description": "The same, for people"],
                        ],
                    ],
                    "HistoryPage": [
                        "type": "object", "required": ["messages", "next_before"],
                        "properties": [
                            "messages": ["type": "array", "items": ref("Message")], "next_before": ["type": ["integer", "null"]],
                        ],
                    ],
                ],
            ],
        ]
    }

    /// Method and path of every operation, for the test that compares them with the served routes.
    static var operations: Set<String> {
        guard let paths = document["paths"] as? [String: [String: Any]] else { return [] }
        return Set(paths.flatMap { path, methods in methods.keys.map { "\($0.uppercased()) \(path)" } })
    }
}
