/**
 * SPDX-FileCopyrightText: 2026 video_converter_fm contributors
 * SPDX-License-Identifier: AGPL-3.0-or-later
 *
 * How sizes, durations, times and the time left read, in the user's language.
 */
import { getCanonicalLocale, n, t } from '@nextcloud/l10n'

function locale(): string {
	try {
		return getCanonicalLocale() || 'en'
	} catch {
		return 'en'
	}
}

/** 1536 → "1.5 KB" (decimal units, as Nextcloud's Files shows sizes). */
export function formatSize(bytes: number): string {
	const units = ['B', 'KB', 'MB', 'GB', 'TB']
	let value = bytes
	let unit = 0
	while (value >= 1000 && unit < units.length - 1) {
		value /= 1000
		unit++
	}
	const number = new Intl.NumberFormat(locale(), { maximumFractionDigits: unit === 0 ? 0 : 1 }).format(value)
	return `${number} ${units[unit]}`
}

/** 3725.2 seconds → "1:02:05", 65 → "1:05". */
export function formatDuration(seconds: number): string {
	const total = Math.round(seconds)
	const h = Math.floor(total / 3600)
	const m = Math.floor((total % 3600) / 60)
	const s = total % 60
	const pad = (v: number) => String(v).padStart(2, '0')
	return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`
}

/** The time left of a running job, rounded the way people say it. */
export function formatTimeLeft(seconds: number): string {
	if (seconds < 60) {
		return t('video_converter_fm', 'less than a minute left')
	}
	const minutes = Math.round(seconds / 60)
	if (minutes < 60) {
		return n('video_converter_fm', 'about %n minute left', 'about %n minutes left', minutes)
	}
	return n('video_converter_fm', 'about %n hour left', 'about %n hours left', Math.round(minutes / 60))
}

/** An ISO time from the API ("2026-11-29T20:45:56Z" or without a zone, which is UTC) as a local date and time. */
export function formatTime(iso: string): string {
	const date = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(iso) ? iso : `${iso}Z`)
	return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(date)
}
