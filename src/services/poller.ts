/**
 * SPDX-FileCopyrightText: 2026 video_converter_fm contributors
 * SPDX-License-Identifier: AGPL-3.0-or-later
 *
 * The live job list. Every poll boots Nextcloud's PHP behind AppAPI's proxy, so the page asks gently:
 * - at most one list request every 2 s (poll_seconds of the initial state, never less), also when the
 *   user clicks quickly;
 * - only while a job is waiting or converting; none once all are finished;
 * - none while the tab is hidden (it catches up when it is shown again);
 * - with If-None-Match, so an unchanged list is a 304 without a body.
 */
import { onBeforeUnmount, onMounted, ref } from 'vue'
import { listJobs } from './api.ts'
import { pageConfig } from './config.ts'
import type { Job } from './api.ts'

/** How many of the newest jobs the page shows (the status filter works on these). */
export const PAGE_SIZE = 100

export function isActive(job: Job): boolean {
	return job.status === 'pending' || job.status === 'processing'
}

export function useJobList() {
	const jobs = ref<Job[]>([])
	const total = ref(0)
	const loaded = ref(false)
	const error = ref('')

	let etag: string | null = null
	let timer: ReturnType<typeof setTimeout> | null = null
	let inFlight = false
	let again = false
	let lastStart = 0
	const gap = pageConfig().poll_seconds * 1000

	function clearTimer(): void {
		if (timer !== null) {
			clearTimeout(timer)
			timer = null
		}
	}

	async function fetchNow(): Promise<void> {
		if (inFlight) {
			again = true
			return
		}
		clearTimer()
		inFlight = true
		lastStart = Date.now()
		try {
			const answer = await listJobs({ limit: PAGE_SIZE }, etag)
			if (answer !== null) {
				etag = answer.etag
				jobs.value = [...answer.list.items].sort((a, b) => b.id - a.id)
				total.value = answer.list.total
			}
			error.value = ''
		} catch (caught) {
			error.value = (caught as Error).message || 'error'
		} finally {
			inFlight = false
			loaded.value = true
		}
		if (again) {
			again = false
			refresh()
		} else if (jobs.value.some(isActive)) {
			schedule(gap)
		}
	}

	function schedule(delay: number): void {
		clearTimer()
		if (document.hidden) {
			return
		}
		timer = setTimeout(() => {
			timer = null
			void fetchNow()
		}, Math.max(0, delay))
	}

	/** Ask for the list as soon as the 2 s gap allows (after a change the user made, or when shown again). */
	function refresh(): void {
		schedule(lastStart + gap - Date.now())
	}

	function onVisibility(): void {
		if (document.hidden) {
			clearTimer()
		} else if (jobs.value.some(isActive) || !loaded.value) {
			refresh()
		}
	}

	onMounted(() => {
		document.addEventListener('visibilitychange', onVisibility)
		// once even when opened in a hidden tab, so that the page is not empty when it is shown
		void fetchNow()
	})
	onBeforeUnmount(() => {
		document.removeEventListener('visibilitychange', onVisibility)
		clearTimer()
	})

	/** Put a job the user just changed into the list at once (the next poll confirms it). */
	function replace(job: Job): void {
		jobs.value = jobs.value.map((item) => (item.id === job.id ? job : item))
	}

	function remove(id: number): void {
		jobs.value = jobs.value.filter((item) => item.id !== id)
		total.value = Math.max(0, total.value - 1)
	}

	return { jobs, total, loaded, error, refresh, replace, remove }
}
