/**
 * SPDX-FileCopyrightText: 2026 video_converter_fm contributors
 * SPDX-License-Identifier: AGPL-3.0-or-later
 *
 * What the page says about targets, statuses and options (the ExApp sends ids and English labels).
 */
import { t } from '@nextcloud/l10n'
import type { JobStatus, Target } from './services/api.ts'

export type TargetGroup = 'video' | 'audio' | 'compress'

export function targetGroup(target: Target): TargetGroup {
	if (target.same_format) {
		return 'compress'
	}
	return target.kind === 'audio' ? 'audio' : 'video'
}

export function groupTitle(group: TargetGroup): string {
	return {
		video: t('video_converter_fm', 'Video'),
		audio: t('video_converter_fm', 'Audio only'),
		compress: t('video_converter_fm', 'Make smaller'),
	}[group]
}

/** The Files menu label, translated ("Convert into WebM"); the msgids come from the ExApp's target list. */
export function targetLabel(target: Target): string {
	return t('video_converter_fm', target.label)
}

/** One line on what a target is good for; empty for a target this page does not know yet. */
export function targetHint(id: string): string {
	const hints: Record<string, string> = {
		mp4: t('video_converter_fm', 'Plays everywhere: phones, browsers, TVs'),
		mp4_hevc: t('video_converter_fm', 'About half the size of MP4 at the same quality; recent devices only'),
		webm: t('video_converter_fm', 'Open format for the web'),
		mkv: t('video_converter_fm', 'Keeps every audio and subtitle track'),
		mov: t('video_converter_fm', 'For Apple editing software'),
		avi: t('video_converter_fm', 'For old players and editing software'),
		m4v: t('video_converter_fm', 'For iTunes and Apple TV'),
		gif: t('video_converter_fm', 'A short silent animation of the beginning'),
		mp3: t('video_converter_fm', 'Sound only; plays everywhere'),
		m4a: t('video_converter_fm', 'Sound only; smaller than MP3 at the same quality'),
		opus: t('video_converter_fm', 'Sound only; the smallest at good quality'),
		compress: t('video_converter_fm', 'A smaller file in the same format'),
	}
	return hints[id] ?? ''
}

export function statusLabel(status: JobStatus): string {
	return {
		pending: t('video_converter_fm', 'Waiting'),
		processing: t('video_converter_fm', 'Converting'),
		completed: t('video_converter_fm', 'Done'),
		failed: t('video_converter_fm', 'Failed'),
		cancelled: t('video_converter_fm', 'Cancelled'),
	}[status] ?? status
}

export function qualityLabel(quality: string): string {
	return {
		high: t('video_converter_fm', 'High (larger file)'),
		normal: t('video_converter_fm', 'Normal'),
		small: t('video_converter_fm', 'Small (lower quality)'),
	}[quality] ?? quality
}

export function heightLabel(height: number | null): string {
	if (height === null) {
		return t('video_converter_fm', 'Keep the original size')
	}
	const names: Record<number, string> = { 2160: '4K', 1080: 'Full HD', 720: 'HD', 480: 'SD' }
	return names[height] ? `${height}p (${names[height]})` : `${height}p`
}
