// Relative asset URLs: the same bundle works at / (lake serve, CloudFront) and under any prefix.
import { defineConfig } from 'vite';

export default defineConfig({
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 400 },
});
