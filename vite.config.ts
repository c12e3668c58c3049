/**
 * SPDX-FileCopyrightText: 2026 video_converter_fm contributors
 * SPDX-License-Identifier: AGPL-3.0-or-later
 *
 * One self-contained classic script, ex_app/js/video_converter_fm-main.js, with its CSS inlined.
 * Why not the ES modules @nextcloud/vite-config emits by default: AppAPI 3.2.3 loads an ExApp's script as
 * `<script defer src=".../proxy/<appid>/js/<name>.js">`, not `type="module"`, and it proxies only the one
 * file, so there can be neither `import` statements nor lazily loaded chunks.
 */
import { createAppConfig } from '@nextcloud/vite-config'
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs'
import type { Plugin } from 'vite'

/**
 * l10n/<lang>.js also as js/video_converter_fm-l10n-<lang>.js, which the ExApp serves through AppAPI's proxy:
 * AppAPI installs l10n/ into Nextcloud only on registration with a translations folder and a writable apps
 * path (App Store installs), so under a plain manual_install the page loads its translations from there.
 */
function translationsBesideTheScript(): Plugin {
	return {
		name: 'video_converter_fm-l10n',
		closeBundle() {
			if (!existsSync('l10n')) {
				return
			}
			mkdirSync('ex_app/js', { recursive: true })
			for (const file of readdirSync('l10n')) {
				if (file.endsWith('.js')) {
					copyFileSync(`l10n/${file}`, `ex_app/js/video_converter_fm-l10n-${file}`)
				}
			}
		},
	}
}

export default createAppConfig({
	main: 'src/main.ts',
}, {
	inlineCSS: true,
	// the default empties ./js — ours lives under ex_app/, and vite's own emptyOutDir would wipe ex_app/
	emptyOutputDirectory: false,
	extractLicenseInformation: false,
	config: {
		plugins: [translationsBesideTheScript()],
		build: {
			outDir: 'ex_app',
			// Debian's chromium and the browsers Nextcloud 29 supports all run ES2020
			target: 'es2020',
			cssCodeSplit: false,
			sourcemap: false,
			rollupOptions: {
				output: {
					format: 'iife',
					inlineDynamicImports: true,
					entryFileNames: 'js/video_converter_fm-[name].js',
				},
			},
		},
	},
})
