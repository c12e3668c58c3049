/**
 * SPDX-FileCopyrightText: 2026 video_converter_fm contributors
 * SPDX-License-Identifier: AGPL-3.0-or-later
 *
 * The initial state the ExApp registers with the page (ex_app/lib/lifecycle.py, page_config). AppAPI puts
 * it in the `app_api` namespace and JSON-encodes it twice, so loadState() gives a string to parse again.
 */
import { loadState } from '@nextcloud/initial-state'

export interface PageConfig {
	/** The AppAPI proxy prefix every API call goes through, for generateUrl(). */
	api_base: string
	/** The gap between two polls of the job list while something runs; never below 2 s. */
	poll_seconds: number
}

const DEFAULTS: PageConfig = { api_base: '/apps/app_api/proxy/video_converter_fm', poll_seconds: 2 }

let cached: PageConfig | null = null

export function pageConfig(): PageConfig {
	if (cached) {
		return cached
	}
	let state: Partial<PageConfig> = {}
	try {
		const raw = loadState<unknown>('app_api', 'config')
		const parsed = typeof raw === 'string' ? JSON.parse(raw) : raw
		if (parsed && typeof parsed === 'object') {
			state = parsed as Partial<PageConfig>
		}
	} catch {
		// not on an AppAPI page (or an older registration): the defaults are what the ExApp registers
	}
	cached = {
		api_base: typeof state.api_base === 'string' && state.api_base ? state.api_base : DEFAULTS.api_base,
		poll_seconds: Math.max(DEFAULTS.poll_seconds, Number(state.poll_seconds) || DEFAULTS.poll_seconds),
	}
	return cached
}
