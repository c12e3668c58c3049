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

export default createAppConfig({
	main: 'src/main.ts',
}, {
	inlineCSS: true,
	// the default empties ./js — ours lives under ex_app/, and vite's own emptyOutDir would wipe ex_app/
	emptyOutputDirectory: false,
	extractLicenseInformation: false,
	config: {
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
