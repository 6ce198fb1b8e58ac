-- mod_xu_upload_test: test-only module for tests/upload.bats (xmpp-send --file).
-- Loaded on the upload component and on the VirtualHost; every request that does
-- not carry one of the markers below passes untouched.
local st = require "util.stanza";

if module:get_host_type() == "component" then
	-- A slot request whose filename starts with "xu-wrong-size" is handed to
	-- mod_http_file_share as if it asked for one byte more, so that the slot does
	-- not match the file and the real PUT handler refuses the upload (HTTP 413).
	module:hook("iq-get/host/urn:xmpp:http:upload:0:request", function(event)
		local request = event.stanza.tags[1];
		if request and tostring(request.attr.filename or ""):match("^xu%-wrong%-size") then
			request.attr.size = tostring((tonumber(request.attr.size) or 0) + 1);
			module:log("info", "XU-UPLOAD-TEST slot size changed to %s", request.attr.size);
		end
	end, 100); -- before mod_http_file_share's handler; returns nothing, so it still runs

	-- A filename "xu-stall-PORT": the slot points at https://127.0.0.1:PORT/, a
	-- test's listener that accepts and never answers (a stalled upload server).
	module:hook("iq-get/host/urn:xmpp:http:upload:0:request", function(event)
		local request = event.stanza.tags[1];
		local port = request and tostring(request.attr.filename or ""):match("^xu%-stall%-(%d+)$");
		if not port then
			return;
		end
		local url = "https://127.0.0.1:" .. port .. "/stall";
		module:log("info", "XU-UPLOAD-TEST stalled slot %s", url);
		event.origin.send(st.reply(event.stanza)
			:tag("slot", { xmlns = "urn:xmpp:http:upload:0" })
			:tag("put", { url = url }):up()
			:tag("get", { url = url }):up());
		return true;
	end, 200);
else
	-- A client whose resource starts with "xu-no-upload" sees a server without the
	-- upload service: the domain's disco#items answer it gets is empty. (Hooked on
	-- the VirtualHost itself: hooking it from the component would depend on the
	-- order in which Prosody happens to load the hosts.)
	module:hook("iq-get/host/http://jabber.org/protocol/disco#items:query", function(event)
		local stanza = event.stanza;
		if stanza.tags[1].attr.node or not tostring(stanza.attr.from or ""):match("/xu%-no%-upload") then
			return;
		end
		event.origin.send(st.reply(stanza):query("http://jabber.org/protocol/disco#items"));
		return true;
	end, 100);
end
