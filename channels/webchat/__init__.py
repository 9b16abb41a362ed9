"""The web chat widget for pupils and parents: a socket.io channel with signed, socket-bound conversations, and the
per-school chat pages the Rasa server serves itself (`/chat/<slug>`, `/chat/embed.js`).

The Rasa glue is `channels.webchat.channel.WebChatInput` (named in credentials.yml); the rules worth testing live in
modules that never import Rasa: `security` (signed ids, bindings, origins, incoming messages), `settings`,
`formatting` (answers as compact markdown) and `pages` (the HTML); `cluster` keeps the bindings and socket.io's
messages in Redis when several Rasa servers share the chat. This file imports nothing, so the unit tests of those
modules stay fast.
"""
