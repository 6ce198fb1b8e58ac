-- mod_xu_test: test-only Prosody module for the xmpputils suite.
-- Logs one greppable line per SASL attempt and outcome, so tests can count
-- login attempts (e.g. "a wrong password causes no retry storm", "no credentials
-- were sent to an untrusted server") without parsing Prosody's debug output.
-- The mechanism is logged; the payload never is.

local function peer(session)
	return tostring(session.ip or "?") .. ":" .. tostring(session.conn and session.conn:clientport() or "?");
end

module:hook("stanza/urn:ietf:params:xml:ns:xmpp-sasl:auth", function(event)
	local session = event.origin;
	module:log("info", "XU-AUTH-ATTEMPT mechanism=%s secure=%s peer=%s",
		tostring(event.stanza.attr.mechanism), tostring(session.secure), peer(session));
end, 1000); -- before mod_saslauth; returns nothing, so it still handles the stanza

module:hook("authentication-failure", function(event)
	module:log("info", "XU-AUTH-FAILURE condition=%s peer=%s",
		tostring(event.condition), peer(event.session));
end);

module:hook("authentication-success", function(event)
	local session = event.session;
	module:log("info", "XU-AUTH-SUCCESS user=%s peer=%s",
		tostring(session.sasl_handler and session.sasl_handler.username or session.username), peer(session));
end);
