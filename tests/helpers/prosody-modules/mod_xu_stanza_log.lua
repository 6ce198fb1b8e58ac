-- mod_xu_stanza_log: test-only Prosody module for the xmpputils suite (issue 16).
-- Logs every message a local client sends, whole (Prosody's own debug log has
-- the top tag only), on one greppable line: "XU-MESSAGE from=JID <message…>".
-- This is how the OMEMO tests check what the server could read: the text must
-- not be there, the ciphertext must. Only for the throwaway test server.

local function log_message(event)
	local origin, stanza = event.origin, event.stanza;
	if origin and origin.type == "c2s" then
		module:log("info", "XU-MESSAGE from=%s %s", tostring(origin.full_jid),
			tostring(stanza):gsub("\n", "&#10;"));
	end
end

for _, kind in ipairs({ "bare", "full", "host" }) do
	module:hook("pre-message/" .. kind, log_message, 1000);
end
