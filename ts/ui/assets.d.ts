// Stylesheets imported by the page are bundled by esbuild (scripts/build-ui.mjs).
declare module '*.css';
