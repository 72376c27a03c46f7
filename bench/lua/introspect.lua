-- wrk: the introspection call a gateway makes (RFC 7662, client_secret_basic, form body), sent
-- straight to the IdP. BENCH_TOKEN is the token; BENCH_BASIC is base64("client_id:client_secret").
local token = os.getenv("BENCH_TOKEN")
local basic = os.getenv("BENCH_BASIC")
assert(token and basic, "introspect.lua needs BENCH_TOKEN and BENCH_BASIC")

wrk.method = "POST"
wrk.body = "token=" .. token .. "&token_type_hint=access_token"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. basic

dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
