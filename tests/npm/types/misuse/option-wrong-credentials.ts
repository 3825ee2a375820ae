// Fails with TS2820: `credentials` takes fetch's words, spelt as fetch spells them.
import { SessionKeeper } from "session-keeper";

new SessionKeeper({ url: "/api/heartbeat", credentials: "same_origin" });
