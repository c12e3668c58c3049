/**
 * SPDX-FileCopyrightText: 2026 video_converter_fm contributors
 * SPDX-License-Identifier: AGPL-3.0-or-later
 */
import { getLanguage } from '@nextcloud/l10n'
import { generateUrl } from '@nextcloud/router'
import { createApp } from 'vue'
import { pageConfig } from './services/config.ts'
import ConversionsPage from './views/ConversionsPage.vue'

const MOUNT_ID = 'video_converter_fm-app'

const APP_ID = 'video_converter_fm'

function hasTranslations(): boolean {
	const registry = (window as unknown as { _oc_l10n_registry_translations?: Record<string, unknown> })
		._oc_l10n_registry_translations
	return Boolean(registry && registry[APP_ID])
}

function loadScript(url: string): Promise<boolean> {
	return new Promise((resolve) => {
		const script = document.createElement('script')
		script.src = url
		script.onload = () => resolve(true)
		script.onerror = () => resolve(false)
		document.head.appendChild(script)
	})
}

/**
 * AppAPI adds our translations (/apps/<app>/l10n/<lang>.js) to the page only when it installed l10n/ into
 * Nextcloud at registration, which a plain manual_install does not. Then the page loads the same file from the
 * ExApp through the proxy (the build puts a copy beside the script), "de_DE" falling back to "de".
 */
async function ensureTranslations(): Promise<void> {
	const language = getLanguage()
	if (!language || language === 'en' || hasTranslations()) {
		return
	}
	const candidates = [...new Set([language, language.split(/[-_]/)[0]])]
	for (const candidate of candidates) {
		const url = generateUrl(`${pageConfig().api_base}/js/${APP_ID}-l10n-${candidate}.js`)
		if (await loadScript(url) && hasTranslations()) {
			return
		}
	}
}

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
	// Nextcloud's <main id="content"> lays its children out as a flex row (navigation | app content): take the
	// whole row, scroll inside it, and shrink below our content's width on narrow screens.
	Object.assign(element.style, { flex: '1 1 100%', minWidth: '0', height: '100%', overflowY: 'auto' })
	host.appendChild(element)
	createApp(ConversionsPage).mount(element)
}

// Our script is deferred, and AppAPI adds the translations (/apps/<app>/l10n/<lang>.js, also deferred) after
// it, before </head>: they have run by DOMContentLoaded, so rendering then shows translated text.
let started = false
function start(): void {
	if (started) {
		return
	}
	started = true
	ensureTranslations().finally(mount)
}

if (document.readyState === 'complete') {
	start()
} else {
	document.addEventListener('DOMContentLoaded', start, { once: true })
	window.addEventListener('load', start, { once: true })
}
