export const smokeCommand = { name: 'smoke', summary: 'tmp', help: '', run: async () => 0 };
