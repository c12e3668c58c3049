/**
 * SPDX-FileCopyrightText: 2026 video_converter_fm contributors
 * SPDX-License-Identifier: AGPL-3.0-or-later
 */
import { createApp } from 'vue'
import ConversionsPage from './views/ConversionsPage.vue'

const MOUNT_ID = 'video_converter_fm-app'

/**
 * Mount the page once. AppAPI's page has two elements with id "content" (the <main> and an empty <div>
 * inside it), so we never look one up by id: we add our own element to the <main>.
 */
function mount(): void {
	if (document.getElementById(MOUNT_ID)) {
		return
	}
	const host = document.querySelector('main') ?? document.body
	const element = document.createElement('div')
	element.id = MOUNT_ID
	host.appendChild(element)
	createApp(ConversionsPage).mount(element)
}

// Our script is deferred, and AppAPI adds the translations (/apps/<app>/l10n/<lang>.js, also deferred) after
// it, before </head>: they have run by DOMContentLoaded, so rendering then shows translated text.
if (document.readyState === 'complete') {
	mount()
} else {
	document.addEventListener('DOMContentLoaded', mount, { once: true })
	window.addEventListener('load', mount, { once: true })
}
